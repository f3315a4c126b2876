"""Device profiles measured for this project and shipped inside the wheel.

Each sub-directory is one profile (see ``latency_kit.profiles.profile``). This package
holds data only; it is a package so that ``importlib.resources`` finds it from
a wheel and from an editable install alike.
"""
