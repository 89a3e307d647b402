"""Visual question answering: rendered scenes (built in), easy-vqa and GQA loaders."""
