"""Standalone runners: files that run on their own (on a board over SSH, say) and
import nothing from latkit, so any layer may use them."""
