"""Voice anonymization evaluation (issue 4): every method on one corpus, judged by the same
attackers (resemblyzer verification, speaker identification, gender) and emotion models."""

from privemo.experiments.voice.config import MethodConfig, VoiceEvalConfig, load_voice_config

__all__ = ["MethodConfig", "VoiceEvalConfig", "load_voice_config"]
