"""One module per task: its batch-first core, its gymnasium classes (with Markdown docs), its drawing."""
