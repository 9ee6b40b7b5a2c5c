"""segmint: personalised content engine (content, approval workflows, integrations, publishing, ideas, voice)."""
