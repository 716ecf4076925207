"""Malformed inputs of every kind privemo takes, each as a CLI case.

A :class:`Case` is the files to lay out in an empty folder (bytes; ``None`` for a folder, ``FIFO``
for a named pipe), the ``privemo`` arguments to run there, and the tokens one of which a clean
error must name (the bad file or the bad key). Every case is generated from a seed: the same seed
gives the same cases, byte for byte.

Kinds: ``audio``, ``image``, ``video`` (malformed media through ``privemo anonymize``), ``config``
(mutated shipped configs and hostile YAML through ``privemo check`` and the real commands),
``labels`` (label files of the corpora through ``privemo data inspect``), ``corpus`` (corpus folders),
``cli`` (ill-typed or out-of-range command-line parameters) and ``runfolder`` (damaged
``results.jsonl`` through the report commands).
"""

from __future__ import annotations

import copy
import io
import json
import random
import struct
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import yaml

ROOT = Path(__file__).resolve().parents[2]
CONFIGS = ROOT / "src" / "privemo" / "configs"
FIFO = b"\0FIFO\0"  # marker: lay this path out as a named pipe


@dataclass
class Case:
    kind: str
    name: str
    args: list[str]
    files: dict[str, bytes | None] = field(default_factory=dict)
    names: list[str] = field(default_factory=list)  # a clean error names at least one of these
    timeout: float = 90.0
    # an accepted case's outputs must pass this (path of the case folder -> problem or None)
    check: Callable[[Path], str | None] | None = None


# -- valid media, made once ---------------------------------------------------------------------
def wav_bytes(sr: int = 16000, seconds: float = 0.5, channels: int = 1, subtype: str = "PCM_16",
              fmt: str = "WAV", data: np.ndarray | None = None) -> bytes:
    import soundfile as sf

    if data is None:
        t = np.arange(max(1, int(sr * seconds))) / sr
        x = 0.3 * np.sin(2 * np.pi * 180 * t) * (1 + 0.3 * np.sin(2 * np.pi * 3 * t))
        data = np.repeat(x[:, None], channels, axis=1) if channels > 1 else x
    buf = io.BytesIO()
    sf.write(buf, np.asarray(data, dtype=np.float64 if subtype == "DOUBLE" else np.float32), sr, subtype=subtype,
             format=fmt)
    return buf.getvalue()


def image_bytes(fmt: str = "PNG", size: tuple[int, int] = (48, 48), mode: str = "L", seed: int = 0) -> bytes:
    from PIL import Image

    rng = np.random.default_rng(seed)
    shape = (size[1], size[0]) if mode in ("L", "P", "I;16") else (size[1], size[0], 3 if mode == "RGB" else 4)
    arr = rng.integers(0, 255, shape).astype(np.uint8)
    im = Image.fromarray(arr, "L" if mode in ("L", "P") else ("RGB" if mode == "RGB" else "RGBA"))
    if mode == "P":
        im = im.convert("P")
    buf = io.BytesIO()
    im.save(buf, format=fmt)
    return buf.getvalue()


_VIDEO: dict[str, bytes] = {}


def video_bytes(suffix: str = ".mp4", frames: int = 12, size: int = 64, audio: bool = True) -> bytes:
    key = f"{suffix}{frames}{size}{audio}"
    if key not in _VIDEO:
        import tempfile

        from privemo.media import write_video

        rng = np.random.default_rng(0)
        fr = rng.integers(0, 255, (frames, size, size, 3)).astype(np.uint8)
        sr = 16000
        au = (0.2 * np.sin(np.arange(int(sr * frames / 12)) / 7)).astype(np.float32) if audio else None
        with tempfile.TemporaryDirectory() as d:
            p = Path(d) / f"v{suffix}"
            write_video(p, fr, 12.0, au, sr if audio else None)
            _VIDEO[key] = p.read_bytes()
    return _VIDEO[key]


# -- byte mutations -----------------------------------------------------------------------------
def mutate(data: bytes, rng: random.Random) -> tuple[str, bytes]:
    """One random corruption of ``data``: (what was done, the result)."""
    n = len(data)
    how = rng.choice(["truncate", "flip", "zero", "insert", "header", "garbage", "repeat", "tail"])
    if how == "truncate":
        k = rng.randrange(0, max(1, n))
        return f"truncated at {k}", data[:k]
    if how == "flip":
        b = bytearray(data)
        for _ in range(rng.randint(1, 64)):
            i = rng.randrange(n)
            b[i] = rng.randrange(256)
        return "bytes flipped", bytes(b)
    if how == "zero":
        i = rng.randrange(n)
        k = rng.randint(1, 4096)
        return f"zeroed {i}+{k}", data[:i] + bytes(min(k, n - i)) + data[i + k:]
    if how == "insert":
        i = rng.randrange(n)
        return f"garbage inserted at {i}", data[:i] + rng.randbytes(rng.randint(1, 512)) + data[i:]
    if how == "header":
        k = min(n, rng.choice([4, 12, 44, 64, 100]))
        return f"header only ({k} bytes)", data[:k]
    if how == "garbage":
        return "random bytes", rng.randbytes(rng.randint(1, 4096))
    if how == "repeat":
        return "header repeated", data[: min(n, 64)] * rng.randint(2, 50)
    return "tail only", data[rng.randrange(1, max(2, n)):]


# -- decompression-bomb headers -----------------------------------------------------------------
def png_bomb(w: int, h: int) -> bytes:
    raw = zlib.compress(b"\0" * 64)
    ihdr = struct.pack(">IIBBBBB", w, h, 8, 0, 0, 0, 0)

    def chunk(tag: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + tag + body + struct.pack(">I", zlib.crc32(tag + body) & 0xFFFFFFFF)

    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", raw) + chunk(b"IEND", b"")


def jpeg_bomb(w: int, h: int) -> bytes:
    data = bytearray(image_bytes("JPEG"))
    i = data.find(b"\xff\xc0")
    struct.pack_into(">HH", data, i + 5, h, w)
    return bytes(data)


def gif_bomb(w: int, h: int) -> bytes:
    data = bytearray(image_bytes("GIF"))
    struct.pack_into("<HH", data, 6, w, h)
    i = data.find(b"\x2c")  # image descriptor
    struct.pack_into("<HH", data, i + 5, w, h)
    return bytes(data)


def bmp_bomb(w: int, h: int) -> bytes:
    data = bytearray(image_bytes("BMP"))
    struct.pack_into("<ii", data, 18, w, h)
    return bytes(data)


def tiff_bomb(w: int, h: int) -> bytes:
    data = bytearray(image_bytes("TIFF"))
    end = "<" if data[:2] == b"II" else ">"
    ifd = struct.unpack_from(end + "I", data, 4)[0]
    count = struct.unpack_from(end + "H", data, ifd)[0]
    for k in range(count):
        off = ifd + 2 + 12 * k
        tag, typ = struct.unpack_from(end + "HH", data, off)
        if tag in (256, 257):
            struct.pack_into(end + "HHI", data, off + 2, 4, 1, w if tag == 256 else h)
    return bytes(data)


BOMBS = {"png": png_bomb, "jpg": jpeg_bomb, "gif": gif_bomb, "bmp": bmp_bomb, "tiff": tiff_bomb}


# -- the kinds ----------------------------------------------------------------------------------
VOICE = ["mcadams", "voice_vq", "noise", "pseudo_speaker", "original"]
FACE = [["-m", "face_blur"], ["-m", "face_pixelate"], ["-m", "face_autoencoder", "-p", "epochs=1", "-p", "size=16"]]


def _audio_out_ok(case_dir: Path) -> str | None:
    import soundfile as sf

    outs = [p for p in (case_dir / "out").rglob("*") if p.is_file() and not p.name.startswith(".")] \
        if (case_dir / "out").is_dir() else []
    outs += [p for p in case_dir.glob("out.*") if p.is_file()]
    for p in outs:
        try:
            x, _ = sf.read(str(p))
        except Exception as exc:  # noqa: BLE001
            return f"{p.name}: output unreadable ({exc})"
        if not np.all(np.isfinite(x)) or len(x) == 0:
            return f"{p.name}: empty or non-finite output"
    return None


def audio_cases(rng: random.Random, n_random: int) -> Iterator[Case]:
    tone = wav_bytes()
    special: list[tuple[str, bytes, str]] = []
    for sr in (1, 8, 100, 999, 800_000):
        special.append((f"rate_{sr}", wav_bytes(sr=sr, seconds=max(0.5, 2 / sr)), ".wav"))
    for sr in (1000, 8000, 44100, 192000):
        special.append((f"rate_ok_{sr}", wav_bytes(sr=sr), ".wav"))
    special += [
        ("one_sample", wav_bytes(data=np.array([0.1])), ".wav"),
        ("ten_samples", wav_bytes(data=np.full(10, 0.1)), ".wav"),
        ("silence", wav_bytes(data=np.zeros(8000)), ".wav"),
        ("full_scale_square", wav_bytes(data=np.sign(np.sin(np.arange(8000) / 3)) * 0.999), ".wav"),
        ("dc", wav_bytes(data=np.full(8000, 0.9)), ".wav"),
        ("stereo", wav_bytes(channels=2), ".wav"),
        ("six_channels", wav_bytes(channels=6), ".wav"),
        ("pcm_u8", wav_bytes(subtype="PCM_U8"), ".wav"),
        ("pcm_24", wav_bytes(subtype="PCM_24"), ".wav"),
        ("float_nan", wav_bytes(subtype="FLOAT", data=np.r_[np.full(4000, 0.1), np.nan, np.full(4000, 0.1)]), ".wav"),
        ("float_inf", wav_bytes(subtype="FLOAT", data=np.r_[np.full(4000, 0.1), np.inf]), ".wav"),
        ("float_huge", wav_bytes(subtype="FLOAT", data=np.full(8000, 1e30)), ".wav"),
        ("flac", wav_bytes(fmt="FLAC"), ".flac"),
        ("ogg", wav_bytes(fmt="OGG", subtype="VORBIS"), ".ogg"),
        ("empty", b"", ".wav"),
        ("png_named_wav", image_bytes(), ".wav"),
        ("text_named_flac", b"hello, I am not audio\n" * 20, ".flac"),
        ("mp3_garbage", b"ID3\x03\x00\x00\x00\x00\x00\x00" + bytes(400), ".mp3"),
        ("video_named_m4a", b"\x00\x00\x00\x18ftypmp42" + bytes(200), ".m4a"),
    ]
    for i, (label, data, suffix) in enumerate(special):
        for method in VOICE:
            name = f"bad{suffix}"
            yield Case("audio", f"audio/{label}/{method}", ["anonymize", "voice", name, f"out{suffix}", "-m", method],
                       {name: data}, [name], check=_audio_out_ok)
        if i % 3 == 0:  # the same file in a folder (skipped with its name, the rest written)
            yield Case("audio", f"audio/{label}/folder", ["anonymize", "voice", "in", "out", "-m", "mcadams"],
                       {"in/good.wav": tone, f"in/bad{suffix}": data}, [f"bad{suffix}"], check=_audio_out_ok)
    # folder oddities
    yield Case("audio", "audio/fifo_in_folder", ["anonymize", "voice", "in", "out", "-m", "mcadams"],
               {"in/good.wav": tone, "in/pipe.wav": FIFO}, ["pipe.wav", "in"], check=_audio_out_ok)
    yield Case("audio", "audio/dir_named_wav", ["anonymize", "voice", "in", "out"],
               {"in/good.wav": tone, "in/x.wav": None}, ["x.wav", "in"], check=_audio_out_ok)
    yield Case("audio", "audio/empty_folder", ["anonymize", "voice", "in", "out"], {"in": None}, ["in"])
    yield Case("audio", "audio/missing", ["anonymize", "voice", "nothing.wav", "out.wav"], {}, ["nothing.wav"])
    yield Case("audio", "audio/non_utf8_name", ["anonymize", "voice", "in", "out", "-m", "mcadams"],
               {"in/good.wav": tone, "in/b\udcff\udcfead.wav": tone}, ["in", "bad", "\\udcff"], check=_audio_out_ok)
    bases = {".wav": tone, ".flac": wav_bytes(fmt="FLAC"), ".ogg": wav_bytes(fmt="OGG", subtype="VORBIS")}
    for k in range(n_random):
        suffix = rng.choice(list(bases))
        how, data = mutate(bases[suffix], rng)
        method = rng.choice(VOICE)
        name = f"m{k}{suffix}"
        yield Case("audio", f"audio/random{k}/{method}/{how}", ["anonymize", "voice", name, f"out{suffix}", "-m", method],
                   {name: data}, [name], check=_audio_out_ok)


def _image_out_ok(case_dir: Path) -> str | None:
    from PIL import Image

    outs = [p for p in case_dir.rglob("*") if p.is_file() and not p.name.startswith(".")
            and (p.parent.name == "out" or p.name.startswith("out."))]
    for p in outs:
        try:
            with Image.open(p) as im:
                im.load()
        except Exception as exc:  # noqa: BLE001
            return f"{p.name}: output unreadable ({exc})"
    return None


def image_cases(rng: random.Random, n_random: int) -> Iterator[Case]:
    for fmt, bomb in BOMBS.items():
        for w, h in ((60000, 60000), (1, 65535) if fmt in ("jpg", "gif") else (1, 2**30), (65535, 65535)):
            name = f"bomb.{fmt}"
            for method in FACE[:2]:
                yield Case("image", f"image/bomb_{fmt}_{w}x{h}/{method[1]}", ["anonymize", "face", name, f"out.{fmt}",
                                                                           *method], {name: bomb(w, h)}, [name])
    special = [
        ("tiny_1x1", image_bytes(size=(1, 1)), ".png"), ("thin_1x4000", image_bytes(size=(1, 4000)), ".png"),
        ("wide_4000x1", image_bytes(size=(4000, 1)), ".png"), ("rgba", image_bytes(mode="RGBA"), ".png"),
        ("palette_gif", image_bytes("GIF", mode="P"), ".gif"), ("rgb_jpeg", image_bytes("JPEG", mode="RGB"), ".jpg"),
        ("tiff", image_bytes("TIFF"), ".tif"), ("bmp", image_bytes("BMP"), ".bmp"),
        ("empty", b"", ".png"), ("wav_named_png", wav_bytes(), ".png"), ("text_named_jpg", b"not an image" * 10, ".jpg"),
        ("png_header_only", image_bytes()[:33], ".png"), ("jpeg_soi_only", b"\xff\xd8\xff", ".jpg"),
    ]
    for label, data, suffix in special:
        for method in FACE:
            name = f"bad{suffix}"
            yield Case("image", f"image/{label}/{method[1]}", ["anonymize", "face", name, f"out{suffix}", *method],
                       {name: data}, [name], check=_image_out_ok)
    yield Case("image", "image/fifo_in_folder", ["anonymize", "face", "in", "out"],
               {"in/good.png": image_bytes(), "in/pipe.png": FIFO}, ["pipe.png", "in"], check=_image_out_ok)
    yield Case("image", "image/missing", ["anonymize", "face", "none.png", "out.png"], {}, ["none.png"])
    bases = {f".{f.lower()}": image_bytes(f) for f in ("PNG", "JPEG", "GIF", "TIFF", "BMP")}
    for k in range(n_random):
        suffix = rng.choice(list(bases))
        how, data = mutate(bases[suffix], rng)
        method = rng.choice(FACE[:2])
        name = f"m{k}{suffix}"
        yield Case("image", f"image/random{k}/{method[1]}/{how}", ["anonymize", "face", name, f"out{suffix}", *method],
                   {name: data}, [name], check=_image_out_ok)


def video_cases(rng: random.Random, n_random: int) -> Iterator[Case]:
    base = video_bytes()
    ok = {"clip.mp4": base}
    params = [("--fps", v) for v in ("-12", "0", "nan", "inf", "10000", "abc")] + \
             [("--detect-width", v) for v in ("0", "-5", "1000000")] + [("--upsample", v) for v in ("-1", "9")] + \
             [("--detect-every", v) for v in ("0", "-1")] + [("--margin", v) for v in ("-1", "nan", "100")] + \
             [("--no-face", "skip"), ("--no-face", "bogus"), ("--face", "nope"), ("--voice", "nope"),
              ("--voice", "face_blur"), ("--face", "mcadams"), ("-P", "block=0"), ("-P", "block=abc"),
              ("-p", "alpha=x"), ("-p", "alpha=-3"), ("-P", "sigma=nan"), ("-p", "nokey")]
    for opt, val in params:
        yield Case("video", f"video/param{opt}={val}", ["anonymize", "video", "clip.mp4", "out.mp4", opt, val], dict(ok),
                   [opt, val.split("=")[0]])
    special = [("empty", b"", ".mp4"), ("wav_named_mp4", wav_bytes(), ".mp4"), ("png_named_mp4", image_bytes(), ".mp4"),
               ("text_named_avi", b"RIFF" + bytes(100), ".avi"), ("no_audio", video_bytes(audio=False), ".mp4"),
               ("one_frame", video_bytes(frames=1), ".mp4"), ("flv", video_bytes(".flv"), ".flv"),
               ("webm", video_bytes(".webm"), ".webm")]
    for label, data, suffix in special:
        name = f"bad{suffix}"
        yield Case("video", f"video/{label}", ["anonymize", "video", name, f"out{suffix}", "--face", "face_blur"],
                   {name: data}, [name])
    yield Case("video", "video/folder_with_bad", ["anonymize", "video", "in", "out"],
               {"in/good.mp4": base, "in/bad.mp4": base[:300]}, ["bad.mp4"])
    for k in range(n_random):
        how, data = mutate(base, rng)
        name = f"m{k}.mp4"
        yield Case("video", f"video/random{k}/{how}", ["anonymize", "video", name, "out.mp4", "--face", "face_pixelate"],
                   {name: data}, [name])


HOSTILE = [-1, 0, 2**31, 10**30, -(10**30), float("nan"), float("inf"), "abc", "", None, [], {}, [1, "x"],
           {"a": 1}, True, 3.5, "<script>alert(1)</script>", "../../pwn", "ten", -0.5, 1e-300]
CONFIG_COMMANDS = {"experiment": ["run"], "voice": ["evaluate", "voice"], "face": ["evaluate", "face"],
                   "video": ["evaluate", "video"], "vgan": ["vgan", "evaluate"], "federated": ["federated", "run"]}


def _paths(node: object, prefix: tuple = ()) -> list[tuple]:
    out = [prefix] if prefix else []
    if isinstance(node, dict):
        for k, v in node.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            out += _paths(v, (*prefix, i))
    return out


def _get(node: object, path: tuple) -> object:
    for p in path:
        node = node[p]  # type: ignore[index]
    return node


def _dump(data: object) -> bytes:
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True).encode()


def config_cases(rng: random.Random, per_config: int) -> Iterator[Case]:
    from privemo.experiments.jobs import config_job

    shipped = sorted(CONFIGS.rglob("*.yaml"))
    for cfg_path in shipped:
        data = yaml.safe_load(cfg_path.read_text())
        kind = config_job(data).name.replace("representation", "experiment")
        paths = _paths(data)
        for k in range(per_config):
            mutated = copy.deepcopy(data)
            path = rng.choice(paths)
            parent, key = _get(mutated, path[:-1]), path[-1]
            how = rng.random()
            if how < 0.6:
                value = rng.choice(HOSTILE)
                parent[key] = value  # type: ignore[index]
                what = f"{'.'.join(map(str, path))}={value!r}"
            elif how < 0.75 and isinstance(parent, dict):
                del parent[key]
                what = f"del {'.'.join(map(str, path))}"
            elif how < 0.9 and isinstance(parent, dict):
                typo = f"{key}x" if isinstance(key, str) else "unknown_key"
                parent[typo] = parent.pop(key)
                what = f"typo {typo}"
                path = (*path[:-1], typo)
            else:
                target = _get(mutated, path[:-1]) if isinstance(parent, dict) else mutated
                if isinstance(target, dict):
                    target["bogus_key"] = 1
                    path = (*path[:-1], "bogus_key")
                what = "unknown key bogus_key"
            name = f"{cfg_path.stem}.yaml"
            tokens = [str(p) for p in path if isinstance(p, str)] + [str(p) for p in path]
            yield Case("config", f"config/{cfg_path.parent.name}/{cfg_path.stem}/{k}/{what}"[:200],
                       ["check", name], {name: _dump(mutated)}, [name] + tokens)
        # the real command on a few values that must be refused before any work
        for label, patch in _refused(kind):
            mutated = copy.deepcopy(data)
            patch(mutated)
            name = f"{cfg_path.stem}.yaml"
            yield Case("config", f"config/{cfg_path.parent.name}/{cfg_path.stem}/real/{label}",
                       [*CONFIG_COMMANDS[kind], name, "--out", "run"], {name: _dump(mutated)}, [name], timeout=60)
    raw = {
        "non_utf8": b"name: \xff\xfe\xfa\n", "nested_lists": b"[" * 5000 + b"]" * 5000,
        "nested_maps": b"".join(b"  " * i + b"k:\n" for i in range(3000)),
        "billion_laughs": b"a: &a [x,x,x,x,x,x,x,x,x]\n" + b"".join(
            f"{c}: &{c} [{','.join(['*' + p] * 9)}]\n".encode() for p, c in zip("abcdefgh", "bcdefghi", strict=True)),
        "huge_int": b"name: x\nfolds: " + b"9" * 6000 + b"\n", "binary": bytes(range(256)) * 4, "empty": b"",
        "comment_only": b"# nothing\n", "a_list": b"- 1\n- 2\n", "tabs": b"name:\tx\n\tfolds: 2\n",
        "python_tag": b"!!python/object/apply:os.system ['echo pwned']\n",
        "complex_key": b"? [1, 2]\n: 3\n", "dup_keys": b"name: a\nname: b\n", "nul": b"name: a\x00b\n",
    }
    for label, data_ in raw.items():
        for kind, cmd in CONFIG_COMMANDS.items():
            yield Case("config", f"config/raw/{label}/{kind}", [*cmd, "c.yaml", "--out", "run"], {"c.yaml": data_},
                       ["c.yaml"], timeout=60)
        yield Case("config", f"config/raw/{label}/check", ["check", "c.yaml"], {"c.yaml": data_}, ["c.yaml"])


def _refused(kind: str) -> list[tuple[str, Callable[[dict], None]]]:
    def setter(**kv: object) -> Callable[[dict], None]:
        def f(d: dict) -> None:
            d.update(copy.deepcopy(kv))
        return f

    out: list[tuple[str, Callable[[dict], None]]] = [
        ("folds_0", setter(folds=0)), ("folds_-1", setter(folds=-1)), ("name_script", setter(name="<script>x</script>")),
        ("name_traversal", setter(name="../../elsewhere")), ("seed_-1", setter(seed=-1)),
        ("corpus_option", lambda d: d["corpus"].setdefault("options", {}).update(nonsense=1)),
        ("corpus_type", lambda d: d["corpus"].update(type="nope")),
    ]
    if kind == "experiment":
        out += [("seeds_neg", setter(seeds=[-1])), ("seeds_huge", setter(seeds=[10**20])),
                ("target", setter(target="mood")), ("no_evaluators", setter(evaluators=[]))]
    if kind in ("voice", "video"):
        def bad_method(field: str, value: object) -> Callable[[dict], None]:
            def f(d: dict) -> None:
                m = d["methods"][0]
                key = "anonymizer" if kind == "voice" else "voice"
                m[key] = {**m[key], field: value} if field != "type" else {"type": value}
            return f
        out += [("methods_empty", setter(methods=[])), ("unknown_anonymizer", bad_method("type", "nope")),
                ("bad_option", bad_method("alpah", 1)), ("method_name_traversal",
                                                           lambda d: d["methods"][0].update(name="../x"))]
    return out


LABEL_FIXTURES: dict[str, tuple[str, str, list[str]]] = {
    # corpus: (label file, its valid text, the audio files)
    "msp_podcast": ("Labels/labels_consensus.csv",
                    "FileName,EmoClass,EmoAct,EmoVal,EmoDom,SpkrID,Gender,Split_Set\n"
                    "MSP-PODCAST_0001_0008.wav,H,4.2,5.0,4.0,127,Female,Train\n"
                    "MSP-PODCAST_0002_0001.wav,N,3.75,3.0,4.0,12,Male,Test1\n",
                    ["Audios/MSP-PODCAST_0001_0008.wav", "Audios/MSP-PODCAST_0002_0001.wav"]),
    "muse": ("annotations.csv", "file,subject,gender,activation,valence,text\ns01_a.wav,1,Male,4.5,5.6,i am fine\n"
             "s02_a.wav,2,f,5.5,4.6,\n", ["audio/s01_a.wav", "audio/s02_a.wav"]),
    "crema_d": ("VideoDemographics.csv", '"ActorID","Age","Sex","Race","Ethnicity"\n1001,30,"Male","C","N"\n'
                '1002,31,"Female","C","N"\n', ["AudioWAV/1001_DFA_ANG_XX.wav", "AudioWAV/1002_IEO_HAP_LO.wav"]),
    "msp_improv": ("Evalution.txt", "UTD-IMPROV-S01A-F01-P-FM01.avi; A; A:4.0; V:2.0; D:3.0; N:5;\n"
                   "UTD-IMPROV-S01A-M01-P-MF01.avi; N; A:3.0; V:3.25; D:3.0; N:5;\n",
                   ["Audio/session1/S01A/P/MSP-IMPROV-S01A-F01-P-FM01.wav",
                    "Audio/session1/S01A/P/MSP-IMPROV-S01A-M01-P-MF01.wav"]),
    "iemocap": ("Session1/dialog/EmoEvaluation/Ses01F_impro01.txt",
                "% header\n[6.2901 - 8.2357]\tSes01F_impro01_F000\tneu\t[2.5000, 2.0000, 2.5000]\n"
                "C-E1:\tNeutral;\t()\n[10.01 - 11.3]\tSes01F_impro01_M001\tfru\t[2.0000, 3.5000, 3.5000]\n",
                ["Session1/sentences/wav/Ses01F_impro01/Ses01F_impro01_F000.wav",
                 "Session1/sentences/wav/Ses01F_impro01/Ses01F_impro01_M001.wav"]),
}


def label_cases(rng: random.Random, n_random: int) -> Iterator[Case]:
    tone = wav_bytes(seconds=0.2)
    for corpus, (label_file, text, audio) in LABEL_FIXTURES.items():
        lines = text.splitlines()
        header = lines[0]
        sep = "," if label_file.endswith(".csv") else ("; " if corpus == "msp_improv" else "\t")
        first = lines[1].split(sep)
        variants = {
            "valid": text, "empty": "", "header_only": header + "\n",
            "empty_file_field": text + sep.join([""] + first[1:]) + "\n",
            "huge_file_field": text + sep.join(["x" * 200_000] + first[1:]) + "\n",
            "short_row": text + first[0] + "\n", "long_row": text + lines[1] + sep + "extra" * 3 + "\n",
            "nul_bytes": text.replace(lines[1], lines[1].replace(first[0][:3], first[0][:3] + "\0", 1)),
            "unbalanced_quote": text + '"' + lines[1] + "\n", "crlf": text.replace("\n", "\r\n"),
            "bom": "\ufeff" + text, "nan_numbers": text.replace("4.", "nan"), "words_for_numbers": text.replace("4.", "four"),
            "negative": text.replace("4.", "-4."), "script": text.replace(first[0], "<script>x</script>", 1),
            "traversal": text.replace(first[0], "../../../etc/passwd", 1),
        }
        files: dict[str, bytes | None] = {a: tone for a in audio}
        if corpus == "iemocap":
            files["Session1/dialog/transcriptions/Ses01F_impro01.txt"] = (
                b"Ses01F_impro01_F000 [006.2901-008.2357]: Excuse me.\nSes01F_impro01_M001 [010.01-011.3]: Yeah.\n")
        token = Path(label_file).name
        for label, body in variants.items():
            yield Case("labels", f"labels/{corpus}/{label}", ["data", "inspect", corpus, "c"],
                       {**{f"c/{k}": v for k, v in files.items()}, f"c/{label_file}": body.encode("utf-8")},
                       [token, "c/", "c:"])
        for label, body in (("latin1", text.encode("utf-8") + "caf\xe9,1,Male\n".encode("latin-1")),
                            ("binary", bytes(range(256)))):
            yield Case("labels", f"labels/{corpus}/{label}", ["data", "inspect", corpus, "c"],
                       {**{f"c/{k}": v for k, v in files.items()}, f"c/{label_file}": body}, [token, "c/", "c:"])
        for k in range(n_random):
            how, body_b = mutate(text.encode(), rng)
            yield Case("labels", f"labels/{corpus}/random{k}/{how}", ["data", "inspect", corpus, "c"],
                       {**{f"c/{k2}": v for k2, v in files.items()}, f"c/{label_file}": body_b}, [token, "c/", "c:"])


CORPUS_FIXTURES: dict[str, dict[str, str]] = {
    "ravdess": {"Actor_01/03-01-01-01-01-01-01.wav": "wav", "Actor_02/03-01-05-01-02-01-02.wav": "wav"},
    "emodb": {"wav/03a01Fa.wav": "wav", "wav/08b02Wb.wav": "wav"},
    "urdu": {"Angry/SM1_F1_A01.wav": "wav", "Happy/SF2_F3_H05.wav": "wav"},
    "yale": {"subject01.happy": "gif", "subject02.normal": "gif"},
    "jaffe": {"KA.AN1.39.tiff": "tiff", "KM.HA2.5.tiff": "tiff"},
    "ckplus": {"CK+48/anger/S010_004_00000017.png": "png", "CK+48/happy/S011_002_00000009.png": "png"},
    "ferg": {"FERG_DB_256/aia/aia_joy/aia_joy_1.png": "png", "FERG_DB_256/ray/ray_anger/ray_anger_7.png": "png"},
    "mug": {"001/session1/happiness/img_0001.jpg": "jpg", "002/session1/anger/img_0001.jpg": "jpg"},
}


def corpus_cases(rng: random.Random) -> Iterator[Case]:
    media = {"wav": wav_bytes(seconds=0.2), "gif": image_bytes("GIF"), "tiff": image_bytes("TIFF"),
             "png": image_bytes("PNG"), "jpg": image_bytes("JPEG", mode="RGB")}
    for corpus, layout in CORPUS_FIXTURES.items():
        files = {f"c/{k}": media[v] for k, v in layout.items()}
        first = next(iter(layout))
        parent = str(Path(first).parent) if Path(first).parent != Path(".") else ""
        sub = f"{parent}/" if parent else ""
        ext = Path(first).suffix
        cases: dict[str, tuple[dict[str, bytes | None], list[str], list[str]]] = {
            "valid": (files, [], ["c"]),
            "empty_folder": ({"c": None}, [], ["c"]), "missing": ({}, [], ["c"]), "root_is_file": ({"c": b"x"}, [], ["c"]),
            "unknown_name": ({**files, f"c/{sub}zz_not_a_name{ext}": media[layout[first]]}, [], ["zz_not_a_name"]),
            "non_utf8_name": ({**files, f"c/{sub}b\udcffad{ext}": media[layout[first]]}, [], ["\\udcff", "bad", "ad"]),
            "zero_byte_media": ({**files, f"c/{first}": b""}, ["--check-files"], [Path(first).name]),
            "garbage_media": ({**files, f"c/{first}": b"garbage" * 10}, ["--check-files"], [Path(first).name]),
            "fifo_media": ({**files, f"c/{first}": FIFO}, ["--check-files"], [Path(first).name, "c"]),
            "dir_as_media": ({**{k: v for k, v in files.items() if k != f"c/{first}"}, f"c/{first}": None}, [],
                             [Path(first).name, "c"]),
            "hidden_junk": ({**files, f"c/{sub}.DS_Store": b"junk", f"c/{sub}._x{ext}": b"junk"}, [], ["c"]),
        }
        for label, (fs, extra, tokens) in cases.items():
            yield Case("corpus", f"corpus/{corpus}/{label}", ["data", "inspect", corpus, "c", *extra], fs, tokens)
    yield Case("corpus", "corpus/unknown_type", ["data", "inspect", "nope", "c"], {"c": None}, ["nope"])
    yield Case("corpus", "corpus/crema_d_no_demographics", ["data", "inspect", "crema_d", "c"],
               {"c/AudioWAV/1001_DFA_ANG_XX.wav": media["wav"]}, ["VideoDemographics"])


def cli_cases(rng: random.Random) -> Iterator[Case]:
    tone = wav_bytes()
    img = image_bytes()
    voice_params = ["k=abc", "k=0", "k=-4", "k=1e9", "alpha=x", "alpha=nan", "alpha=-1", "alpha=99",
                    "alpha_range=[0.9]", "alpha_range=abc", "frame_period=0", "frame_period=-10", "f0_jitter=nan",
                    "epsilon=0", "epsilon=-1", "n_iter=0", "vocoder=wavenet", "codebook=cluster", "seed=-1",
                    "seed=99999999999999999999", "nokey", "=1", "k=[unclosed", "order=0", "win_ms=0", "hop_ms=1e9",
                    "unknown=1", "n_mfcc=0", "momentum=1", "max_frames=0"]
    methods = {"k": "voice_vq", "alpha": "mcadams", "alpha_range": "mcadams", "frame_period": "pseudo_speaker",
               "f0_jitter": "pseudo_speaker", "epsilon": "noise", "n_iter": "noise", "vocoder": "voice_vq",
               "codebook": "voice_vq", "order": "mcadams", "win_ms": "mcadams", "hop_ms": "mcadams",
               "n_mfcc": "noise", "momentum": "voice_vq", "max_frames": "voice_vq"}
    for p in voice_params:
        key = p.split("=")[0]
        m = methods.get(key, "mcadams")
        yield Case("cli", f"cli/voice/-p {p}", ["anonymize", "voice", "a.wav", "o.wav", "-m", m, "-p", p],
                   {"a.wav": tone}, [key or "--param", "--param", p])
    for opt, val in [("--workers", "0"), ("--workers", "-3"), ("--workers", "100000"), ("--sr", "0"), ("--sr", "1"),
                     ("--sr", "-16000"), ("--sr", "abc"), ("--speaker-from", "bogus"), ("--method", "nope"),
                     ("--method", "face_blur"), ("--fit-on", "missing_dir")]:
        yield Case("cli", f"cli/voice/{opt} {val}", ["anonymize", "voice", "a.wav", "o.wav", opt, val],
                   {"a.wav": tone}, [opt, val])
    face_params = ["sigma=nan", "sigma=-1", "sigma=abc", "block=0", "block=-8", "block=abc", "size=3", "size=100000",
                   "epochs=0", "epochs=ten", "lr=0", "mask=1.5", "noise=-1", "unknown=1", "latent=0"]
    fmethods = {"sigma": "face_blur", "block": "face_pixelate"}
    for p in face_params:
        key = p.split("=")[0]
        m = fmethods.get(key, "face_autoencoder")
        yield Case("cli", f"cli/face/-p {p}", ["anonymize", "face", "a.png", "o.png", "-m", m, "-p", p],
                   {"a.png": img}, [key, p])
    for opt, val in [("--margin", "-1"), ("--margin", "nan"), ("--margin", "1e9"), ("--no-face", "bogus"),
                     ("--method", "nope"), ("--method", "mcadams"), ("--model", "missing.pt")]:
        yield Case("cli", f"cli/face/{opt} {val}", ["anonymize", "face", "a.png", "o.png", opt, val] +
                   (["-m", "vgan"] if opt == "--model" else []), {"a.png": img}, [opt, val])
    yield Case("cli", "cli/face/garbage_model", ["anonymize", "face", "a.png", "o.png", "-m", "vgan", "--model", "m.pt"],
               {"a.png": img, "m.pt": b"not a model"}, ["m.pt"])
    yield Case("cli", "cli/face/garbage_ae_model", ["anonymize", "face", "a.png", "o.png", "-m", "face_autoencoder",
                                                    "--model", "m.pt"], {"a.png": img, "m.pt": b"\x80\x02junk"}, ["m.pt"])
    for args, tokens in [(["check", "nope.yaml"], ["nope.yaml"]), (["check", "c.yaml", "--kind", "bogus"], ["--kind"]),
                         (["report", "nothere"], ["nothere"]), (["evaluate", "face", "c.yaml", "--part", "bogus"],
                                                                ["--part"]),
                         (["data", "inspect", "ravdess"], ["ravdess"]), (["features", "extract"], ["Missing"]),
                         (["federated", "report", "nothere"], ["nothere"])]:
        yield Case("cli", f"cli/misc/{' '.join(args)}", args, {"c.yaml": _dump({"name": "x"})}, tokens)


def _results(rng: random.Random) -> list[dict]:
    rows = []
    for v, variant in enumerate(("base", "other")):
        for ev, et in (("emotion", "emotion"), ("gender_attacker", "gender_attacker")):
            for fold in range(2):
                rows.append({"run": "fz", "corpus": "synthetic", "synthetic": True, "variant": variant,
                             "variant_order": v, "reference": "base", "fold": fold, "seed": 0, "evaluator": ev,
                             "evaluator_type": et, "uar": 0.5 + 0.1 * rng.random(), "accuracy": 0.5, "uar_m": 0.5,
                             "uar_f": 0.6, "chance": 0.5, "wall_s": 1.0,
                             **({"privacy": 0.4} if et == "gender_attacker" else {})})
    return rows


def active_markup(html: str) -> list[str]:
    """What in a page could run: script elements, ``on...`` event attributes, ``javascript:`` URLs."""
    from html.parser import HTMLParser

    found: list[str] = []

    class Parser(HTMLParser):
        def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
            if tag in ("script", "iframe", "object", "embed", "base"):
                found.append(f"<{tag}>")
            for k, v in attrs:
                if k.lower().startswith("on") or (v or "").strip().lower().startswith("javascript:"):
                    found.append(f"<{tag} {k}={v!r:.40}>")

    Parser().feed(html)
    return found


def _no_markup(case_dir: Path) -> str | None:
    for p in case_dir.rglob("report.html"):
        bad = active_markup(p.read_text(errors="replace"))
        if bad:
            return f"{p.relative_to(case_dir)}: raw markup from the results reached the page: {bad[:3]}"
    return None


REPORTS = {"main": ["report", "r"], "voice": ["evaluate", "voice", "r", "--report"],
           "face": ["evaluate", "face", "r", "--report"], "video": ["evaluate", "video", "r", "--report"],
           "federated": ["federated", "report", "r"]}


def runfolder_cases(rng: random.Random, n_random: int) -> Iterator[Case]:
    rows = _results(rng)
    good = "".join(json.dumps(r) + "\n" for r in rows)
    damaged: dict[str, bytes] = {
        "truncated_line": good[: len(good) - 37].encode(), "garbage_line": (good + "}{not json\n").encode(),
        "array_line": (good + "[1, 2]\n").encode(), "empty": b"", "not_utf8": good.encode() + b"\xff\xfe\n",
        "nan_tokens": good.replace("0.5,", "NaN,", 3).encode(), "huge_number": good.replace("0.5,", "1e999,", 2).encode(),
        "string_numbers": good.replace('"uar": 0', '"uar": "0', 1).replace(', "accuracy"', '", "accuracy"', 1).encode(),
        "null_figures": good.replace('"uar": 0.', '"uar": null, "x": 0.').encode(),
        "deep_nesting": (good + '{"variant": ' + "[" * 100_000 + "]" * 100_000 + "}\n").encode(),
        "script_names": good.replace('"base"', '"<script>alert(1)</script>"').replace(
            '"other"', '"<img src=x onerror=alert(1)>"').encode(),
        "traversal_names": good.replace('"other"', '"../../../pwn"').encode(),
    }
    for key in ("variant", "evaluator", "fold", "uar", "chance", "evaluator_type"):
        damaged[f"missing_{key}"] = "".join(json.dumps({k: v for k, v in r.items() if k != key}) + "\n"
                                            for r in rows).encode()
    for k in range(n_random):
        how, data = mutate(good.encode(), rng)
        damaged[f"random{k}/{how}"] = data
    for label, data in damaged.items():
        for writer, args in REPORTS.items():
            yield Case("runfolder", f"runfolder/{writer}/{label}", args, {"r/results.jsonl": data},
                       ["results.jsonl", "r/", "r:"], check=_no_markup)
    yield Case("runfolder", "runfolder/main/results_is_dir", ["report", "r"], {"r/results.jsonl": None},
               ["results.jsonl"])
    yield Case("runfolder", "runfolder/main/config_garbage", ["report", "r"],
               {"r/results.jsonl": good.encode(), "r/config.yaml": b"\xff\xfe: [\n"}, ["config.yaml", "r/"],
               check=_no_markup)
    yield Case("runfolder", "runfolder/main/config_script", ["report", "r"],
               {"r/results.jsonl": good.encode(), "r/config.yaml": b"name: </pre><script>alert(1)</script>\n"},
               ["config.yaml"], check=_no_markup)


KINDS = ("audio", "image", "video", "config", "labels", "corpus", "cli", "runfolder")


def all_cases(seed: int = 0, scale: float = 1.0) -> list[Case]:
    """Every case (``scale`` < 1 draws fewer random mutations: the same hand-made cases)."""
    rng = random.Random(seed)

    def n(k: int) -> int:
        return max(1, int(k * scale))

    cases: list[Case] = []
    cases += audio_cases(rng, n(120))
    cases += image_cases(rng, n(120))
    cases += video_cases(rng, n(40))
    cases += config_cases(rng, n(30))
    cases += label_cases(rng, n(8))
    cases += corpus_cases(rng)
    cases += cli_cases(rng)
    cases += runfolder_cases(rng, n(12))
    return cases
