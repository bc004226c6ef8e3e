"""Data: sources and export (01), cleaning (02), LaTeX tokens, images, vocabulary, the training dataset,
augmentation, and the demo generator (`synth`)."""

SPLITS = ("train", "dev", "test")
# im2latex-style list of each split under data/processed/<source>/<key>/ (the course's names)
LIST_NAMES = {"train": "train_filter.lst", "dev": "validate_filter.lst", "test": "test_filter.lst"}
