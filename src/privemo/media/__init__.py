"""Reading and writing audio, images and video, with one clear error type (MediaError)."""

from privemo.media.audio import probe_audio, read_audio, resample, write_audio
from privemo.media.image import read_image, write_image
from privemo.media.video import VideoClip, read_video, write_video

__all__ = [
    "VideoClip",
    "probe_audio",
    "read_audio",
    "read_image",
    "read_video",
    "resample",
    "write_audio",
    "write_image",
    "write_video",
]
