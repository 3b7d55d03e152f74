"""Speech: voice notes checked and decoded within a budget (`audio`), then turned to text
behind one `Transcriber` interface (`base`), with OpenAI's
transcription (`openai`) and a local Whisper (`local`, faster-whisper) whose weights come
from a directory, a pinned registry package or faster-whisper's download (`weights`)."""

from assistant.speech.audio import AudioTooLong, CorruptAudio, UnsupportedCodec, probe
from assistant.speech.base import Transcriber, TranscriptionError, UnsupportedAudio
from assistant.speech.local import LocalWhisperTranscriber
from assistant.speech.openai import OpenAITranscriber
from assistant.speech.weights import ModelUnavailable

__all__ = [
    "AudioTooLong",
    "CorruptAudio",
    "LocalWhisperTranscriber",
    "ModelUnavailable",
    "OpenAITranscriber",
    "Transcriber",
    "TranscriptionError",
    "UnsupportedAudio",
    "UnsupportedCodec",
    "probe",
]
