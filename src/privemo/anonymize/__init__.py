"""Anonymizers: media in, media of the same kind, rate and length out (DESIGN.md, "Anonymizer").

Voice: ``original`` (no protection, the reference), ``mcadams`` (VoicePrivacy B2), ``voice_vq``
(MFCC vector quantisation, ranade), ``noise`` (Laplace mechanism on MFCCs, ranade) and
``pseudo_speaker`` (ours: WORLD re-voicing to one pseudo-speaker, prosody kept relative to the
speaker). ``anonymize_corpus`` writes a whole manifest's anonymized audio, resumably.
"""

from privemo.anonymize.base import Clip, Identity, VoiceAnonymizer, clip_of
from privemo.anonymize.batch import anonymize_corpus, anonymize_files, create_anonymizer
from privemo.anonymize.mcadams import McAdams
from privemo.anonymize.noise import LaplaceMFCC
from privemo.anonymize.pseudo_speaker import PseudoSpeaker
from privemo.anonymize.voice_vq import VoiceVQ

__all__ = ["Clip", "Identity", "LaplaceMFCC", "McAdams", "PseudoSpeaker", "VoiceAnonymizer", "VoiceVQ",
           "anonymize_corpus", "anonymize_files", "clip_of", "create_anonymizer"]
