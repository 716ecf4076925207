"""Every corpus loader against a fixture tree with the published file names."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from privemo.corpora import (
    load,
    load_ckplus,
    load_crema_d,
    load_emodb,
    load_ferg,
    load_iemocap,
    load_jaffe,
    load_msp_improv,
    load_msp_podcast,
    load_mug,
    load_muse,
    load_ravdess,
    load_urdu,
    load_yale,
)
from privemo.errors import CorpusError
from tests.conftest import make_image, make_wav


def test_ravdess(tmp_path):
    for actor in ("01", "02"):
        for emo in ("01", "05"):
            make_wav(tmp_path / f"Actor_{actor}" / f"03-01-{emo}-01-02-01-{actor}.flac")
    m = load_ravdess(tmp_path)
    assert len(m) == 4
    assert set(m["gender"]) == {"m", "f"}
    assert set(m["emotion"]) == {"neutral", "angry"}
    assert set(m["text"]) == {"Dogs are sitting by the door"}
    row = m.df.set_index("speaker").loc["ravdess_01"].iloc[0]
    assert row["gender"] == "m" and row["emotion_raw"] in ("01", "05")


def test_ravdess_rejects_malformed_name(tmp_path):
    make_wav(tmp_path / "Actor_01" / "03-01-01-01-01-01-01.wav")
    make_wav(tmp_path / "Actor_01" / "03-01-99-01-01-01-01.wav")  # emotion 99 does not exist
    with pytest.raises(CorpusError, match="03-01-99"):
        load_ravdess(tmp_path)
    m = load_ravdess(tmp_path, skip_bad=True)
    assert len(m) == 1 and len(m.skipped) == 1


def test_ravdess_actor_folder_mismatch(tmp_path):
    make_wav(tmp_path / "Actor_02" / "03-01-01-01-01-01-01.wav")
    with pytest.raises(CorpusError):
        load_ravdess(tmp_path)


def test_empty_and_missing_folders(tmp_path):
    with pytest.raises(CorpusError, match="no ravdess items"):
        load_ravdess(tmp_path)
    with pytest.raises(CorpusError, match="does not exist"):
        load_ravdess(tmp_path / "nope")
    with pytest.raises(CorpusError, match="needs a root"):
        load("ravdess")


def test_skip_bad_drops_unreadable_files(tmp_path):
    make_wav(tmp_path / "Actor_01" / "03-01-01-01-01-01-01.wav")
    (tmp_path / "Actor_01" / "03-01-01-01-01-02-01.wav").write_bytes(b"RIFF not really")
    (tmp_path / "Actor_01" / "03-01-01-01-02-01-01.wav").write_bytes(b"")
    m = load_ravdess(tmp_path, skip_bad=True)
    assert len(m) == 1
    assert {p.split("/")[-1] for p, _ in m.skipped} == {"03-01-01-01-01-02-01.wav", "03-01-01-01-02-01-01.wav"}


def _crema(tmp_path, sexes=(("1001", "Male"), ("1002", "Female"))):
    csv = "\n".join(['"ActorID","Age","Sex","Race","Ethnicity"'] +
                    [f'{a},30,"{s}","Caucasian","Not Hispanic"' for a, s in sexes])
    (tmp_path / "VideoDemographics.csv").write_text(csv + "\n")
    make_wav(tmp_path / "AudioWAV" / "1001_DFA_ANG_XX.wav")
    make_wav(tmp_path / "AudioWAV" / "1002_IEO_HAP_LO.wav")


def test_crema_d(tmp_path):
    _crema(tmp_path)
    m = load_crema_d(tmp_path)
    assert dict(zip(m["speaker"], m["gender"], strict=True)) == {"crema_d_1001": "m", "crema_d_1002": "f"}
    assert set(m["emotion"]) == {"angry", "happy"}
    assert "Don't forget a jacket" in set(m["text"])


def test_crema_d_errors(tmp_path):
    _crema(tmp_path, sexes=(("1001", "Male"),))
    with pytest.raises(CorpusError, match="1002"):
        load_crema_d(tmp_path)
    (tmp_path / "VideoDemographics.csv").unlink()
    with pytest.raises(CorpusError, match="VideoDemographics"):
        load_crema_d(tmp_path)


def test_emodb(tmp_path):
    make_wav(tmp_path / "wav" / "03a01Fa.wav")
    make_wav(tmp_path / "wav" / "08b02Wb.wav")
    m = load_emodb(tmp_path)
    assert dict(zip(m["speaker"], m["gender"], strict=True)) == {"emodb_03": "m", "emodb_08": "f"}
    assert set(m["emotion"]) == {"happy", "angry"}
    make_wav(tmp_path / "wav" / "99a01Fa.wav")  # speaker 99 is not in EmoDB
    with pytest.raises(CorpusError, match="99a01Fa"):
        load_emodb(tmp_path)


def test_iemocap(tmp_path):
    ses = tmp_path / "Session1"
    make_wav(ses / "sentences" / "wav" / "Ses01F_impro01" / "Ses01F_impro01_F000.wav")
    make_wav(ses / "sentences" / "wav" / "Ses01F_impro01" / "Ses01F_impro01_M001.wav")
    (ses / "dialog" / "EmoEvaluation").mkdir(parents=True)
    (ses / "dialog" / "EmoEvaluation" / "Ses01F_impro01.txt").write_text(
        "% header\n[6.2901 - 8.2357]\tSes01F_impro01_F000\tneu\t[2.5000, 2.0000, 2.5000]\n"
        "C-E1:\tNeutral;\t()\n[10.01 - 11.3]\tSes01F_impro01_M001\tfru\t[2.0000, 3.5000, 3.5000]\n")
    (ses / "dialog" / "transcriptions").mkdir(parents=True)
    (ses / "dialog" / "transcriptions" / "Ses01F_impro01.txt").write_text(
        "Ses01F_impro01_F000 [006.2901-008.2357]: Excuse me.\nSes01F_impro01_M001 [010.01-011.3]: Yeah.\n")
    m = load_iemocap(tmp_path).df.set_index("item_id")
    f = m.loc["iemocap/Ses01F_impro01_F000"]
    assert (f["speaker"], f["gender"], f["emotion"], f["text"]) == ("iemocap_01F", "f", "neutral", "Excuse me.")
    assert (f["valence"], f["activation"]) == ("low", "low")  # V 2.5 -> low; A 2.0 -> low
    g = m.loc["iemocap/Ses01F_impro01_M001"]
    assert g["gender"] == "m" and g["emotion_raw"] == "fru" and str(g["emotion"]) == "<NA>"
    assert (g["valence"], g["activation"]) == ("low", "high")
    with pytest.raises(CorpusError, match="Session"):
        load_iemocap(tmp_path / "Session1" / "dialog")


def test_msp_improv(tmp_path):
    make_wav(tmp_path / "Audio" / "session1" / "S01A" / "P" / "MSP-IMPROV-S01A-F01-P-FM01.wav")
    make_wav(tmp_path / "Audio" / "session1" / "S01A" / "P" / "MSP-IMPROV-S01A-M01-P-MF01.wav")
    (tmp_path / "Evalution.txt").write_text(
        "UTD-IMPROV-S01A-F01-P-FM01.avi; A; A:4.0; V:2.0; D:3.0; N:5;\n"
        "UTD-IMPROV-S01A-M01-P-MF01.avi; N; A:3.0; V:3.25; D:3.0; N:5;\n")
    m = load_msp_improv(tmp_path).df.set_index("speaker")
    assert m.loc["msp_improv_F01", "emotion"] == "angry" and m.loc["msp_improv_F01", "activation"] == "high"
    assert m.loc["msp_improv_M01", "valence"] == "mid" and m.loc["msp_improv_M01", "gender"] == "m"


def test_msp_podcast(tmp_path):
    make_wav(tmp_path / "Audios" / "MSP-PODCAST_0001_0008.wav")
    make_wav(tmp_path / "Audios" / "MSP-PODCAST_0002_0001.wav")
    (tmp_path / "Labels").mkdir()
    (tmp_path / "Labels" / "labels_consensus.csv").write_text(
        "FileName,EmoClass,EmoAct,EmoVal,EmoDom,SpkrID,Gender,Split_Set\n"
        "MSP-PODCAST_0001_0008.wav,H,4.2,5.0,4.0,127,Female,Train\n"
        "MSP-PODCAST_0002_0001.wav,X,3.75,3.0,4.0,12,Male,Test1\n")
    m = load_msp_podcast(tmp_path).df.set_index("speaker")
    assert m.loc["msp_podcast_127", "activation"] == "mid" and m.loc["msp_podcast_127", "valence"] == "high"
    assert m.loc["msp_podcast_12", "activation"] == "low" and str(m.loc["msp_podcast_12", "emotion"]) == "<NA>"


def test_muse(tmp_path):
    make_wav(tmp_path / "audio" / "s01_a.wav")
    make_wav(tmp_path / "audio" / "s02_a.wav")
    (tmp_path / "annotations.csv").write_text(
        "file,subject,gender,activation,valence,text\ns01_a.wav,1,Male,4.5,5.6,i am fine\ns02_a.wav,2,f,5.5,4.6,\n")
    m = load_muse(tmp_path).df.set_index("speaker")
    assert (m.loc["muse_1", "activation"], m.loc["muse_1", "valence"]) == ("low", "high")
    assert (m.loc["muse_2", "activation"], m.loc["muse_2", "valence"]) == ("mid", "mid")
    assert m.loc["muse_1", "text"] == "i am fine" and m.loc["muse_2", "gender"] == "f"


def test_urdu(tmp_path):
    make_wav(tmp_path / "Angry" / "SM1_F1_A01.wav")
    make_wav(tmp_path / "Happy" / "SF2_F3_H05.wav")
    m = load_urdu(tmp_path).df.set_index("speaker")
    assert m.loc["urdu_M1", "emotion"] == "angry" and m.loc["urdu_F2", "gender"] == "f"
    make_wav(tmp_path / "Sad" / "SM1_F1_A02.wav")  # angry code in the sad folder
    with pytest.raises(CorpusError, match="does not match"):
        load_urdu(tmp_path)


def test_yale(tmp_path):
    make_image(tmp_path / "subject01.happy", fmt="GIF")
    make_image(tmp_path / "subject02.leftlight", fmt="GIF")
    make_image(tmp_path / "subject02.normal", fmt="GIF")
    m = load_yale(tmp_path).df.set_index("item_id")
    assert m.loc["yale/subject01.happy", "emotion"] == "happy"
    assert m.loc["yale/subject02.normal", "emotion"] == "neutral"
    assert str(m.loc["yale/subject02.leftlight", "emotion"]) == "<NA>"
    make_image(tmp_path / "subject03.frowning", fmt="GIF")
    with pytest.raises(CorpusError, match="subject03.frowning"):
        load_yale(tmp_path)


def test_jaffe_palette_tiff(tmp_path):
    make_image(tmp_path / "KA.AN1.39.tiff", mode="P")
    make_image(tmp_path / "KM.HA2.5.tiff")
    m = load_jaffe(tmp_path)
    assert set(m["emotion"]) == {"angry", "happy"} and set(m["gender"]) == {"f"}
    from privemo.media import read_image

    assert read_image(m["path"].iloc[0]).shape == (32, 32)


def test_ckplus_sequences(tmp_path):
    seq = tmp_path / "cohn-kanade-images" / "S005" / "001"
    for i in range(1, 6):
        make_image(seq / f"S005_001_{i:08d}.png")
    (tmp_path / "Emotion" / "S005" / "001").mkdir(parents=True)
    (tmp_path / "Emotion" / "S005" / "001" / "S005_001_00000005_emotion.txt").write_text("   3.0000000e+00\n")
    m = load_ckplus(tmp_path, peak_frames=2)
    assert list(m["emotion"]) == ["neutral", "disgust", "disgust"]
    assert m["group"].nunique() == 1


def test_ckplus48(tmp_path):
    make_image(tmp_path / "CK+48" / "anger" / "S010_004_00000017.png")
    make_image(tmp_path / "CK+48" / "happy" / "S011_002_00000009.png")
    m = load_ckplus(tmp_path)
    assert set(m["emotion"]) == {"angry", "happy"} and m["speaker"].nunique() == 2


def test_ferg(tmp_path):
    make_image(tmp_path / "FERG_DB_256" / "aia" / "aia_joy" / "aia_joy_1.png")
    make_image(tmp_path / "FERG_DB_256" / "ray" / "ray_anger" / "ray_anger_7.png")
    m = load_ferg(tmp_path).df.set_index("speaker")
    assert m.loc["ferg_aia", "emotion"] == "happy" and m.loc["ferg_aia", "gender"] == "f"
    assert m.loc["ferg_ray", "gender"] == "m"


def test_mug(tmp_path):
    make_image(tmp_path / "001" / "session1" / "happiness" / "img_0001.jpg", mode="RGB", fmt="JPEG")
    make_image(tmp_path / "002" / "session1" / "anger" / "img_0001.jpg", mode="RGB", fmt="JPEG")
    m = load_mug(tmp_path, genders={"001": "f"})
    assert set(m["emotion"]) == {"happy", "angry"}
    assert m.df.set_index("speaker").loc["mug_001", "gender"] == "f"


def test_label_tables_are_checked(tmp_path):
    (tmp_path / "Labels").mkdir()
    (tmp_path / "Audios").mkdir()
    with pytest.raises(CorpusError, match="consensus label file not found"):
        load_msp_podcast(tmp_path)
    (tmp_path / "Labels" / "labels_consensus.csv").write_text("FileName,EmoClass\nx.wav,H\n")
    with pytest.raises(CorpusError, match="missing columns"):
        load_msp_podcast(tmp_path)
    (tmp_path / "annotations.csv").write_text("file,subject\n")
    with pytest.raises(CorpusError, match=r"missing columns \['gender'"):
        load_muse(tmp_path)


def test_manifest_jsonl_round_trip(tmp_path):
    for emo in ("01", "05"):
        make_wav(tmp_path / "Actor_03" / f"03-01-{emo}-01-02-01-03.wav")
    m = load_ravdess(tmp_path)
    m.to_jsonl(tmp_path / "m.jsonl")
    again = type(m).from_jsonl(tmp_path / "m.jsonl")
    assert again.df[["item_id", "speaker", "gender", "emotion", "text"]].equals(
        m.df[["item_id", "speaker", "gender", "emotion", "text"]])


def test_crema_d_video_flash_loads_and_anonymizes(tmp_path):
    """CREMA-D's VideoFlash (FLV) clips through the loader, then anonymized with sound back into FLV."""
    from privemo.anonymize import create_anonymizer
    from privemo.anonymize.face import create_face_anonymizer
    from privemo.anonymize.video import anonymize_video_files
    from privemo.media import read_video, write_video

    _crema(tmp_path)
    rng = np.random.default_rng(0)
    for name in ("1001_DFA_ANG_XX", "1002_IEO_HAP_LO"):
        audio = (0.2 * np.sin(np.arange(16000) / 16000 * 2 * np.pi * 180)).astype(np.float32)
        write_video(tmp_path / "VideoFlash" / f"{name}.flv", rng.integers(0, 255, (30, 36, 48, 3)).astype(np.uint8),
                    30, audio, 16000)
    m = load_crema_d(tmp_path, media="video")
    assert len(m) == 2 and set(m["media"]) == {"video"} and set(m["gender"]) == {"m", "f"}
    res = anonymize_video_files(create_face_anonymizer("face_blur"), create_anonymizer("mcadams"),
                                tmp_path / "VideoFlash", tmp_path / "anon", skip_bad=False)
    assert res.written == 2
    for p in m["path"]:
        a, b = read_video(p, sr=None), read_video(tmp_path / "anon" / Path(p).name, sr=None)
        assert b.frames.shape == a.frames.shape and abs(b.duration - a.duration) <= 1 / 30 and b.audio is not None
