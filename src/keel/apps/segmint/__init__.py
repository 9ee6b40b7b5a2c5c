"""segmint: personalised content engine (content, workflows, integrations, publishing, ideas, voice)."""
