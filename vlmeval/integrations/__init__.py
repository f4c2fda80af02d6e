"""Where vlmeval meets training code: the Hugging Face Trainer callback (`hf`) and metric loggers."""
