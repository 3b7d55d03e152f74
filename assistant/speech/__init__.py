"""Speech: voice notes to text behind one `Transcriber` interface (`base`), with OpenAI's
transcription (`openai`)."""

from assistant.speech.base import Transcriber, TranscriptionError, UnsupportedAudio
from assistant.speech.openai import OpenAITranscriber

__all__ = ["OpenAITranscriber", "Transcriber", "TranscriptionError", "UnsupportedAudio"]
