"""Device profiles on disk: block-LUT profiles (:mod:`.profile`), per-architecture
tables (:mod:`.table`) and few-shot profiles (:mod:`.fewshot`)."""
