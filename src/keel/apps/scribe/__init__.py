"""TurboScribe Pro: media processing, transcription engines and transcript exports."""
