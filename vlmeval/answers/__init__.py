"""Parsing and normalisation of model answers (choice letters, VQA answers) and their scoring."""
