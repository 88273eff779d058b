"""Synthetic labelled speech with espeak-ng: spoken digits or command words, many voices.

espeak-ng (Debian package ``espeak-ng``) speaks a word with any of its accents
(``en-us``, ``en-gb-scotland``, a German or French voice reading English ...) and voice
variants (``+m3``, ``+f2``, ``+klatt``, ...), at a chosen speed and pitch. A *speaker*
here is one accent with one variant. :func:`write_dataset` writes

    OUTPUT/train/<word>/<speaker>-<n>.wav    speakers of the training pool
    OUTPUT/test/<word>/<speaker>-<n>.wav     other accents AND other variants

so the test set is speaker-disjoint: no accent and no variant of a test clip occurs in
training. Every draw (speakers, speed, pitch) comes from one seeded generator, so the
same arguments write the same files. The validation split tunelab takes from ``train/``
shares speakers with training; only ``test/`` measures new voices.

    python -m tunelab.tasks.audio.synth data/audio_digits
"""

from __future__ import annotations

import argparse
import itertools
import json
import shutil
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from tunelab.errors import DataError

WORDS = {
    "digits": ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"],
    "commands": ["yes", "no", "up", "down", "left", "right", "on", "off", "stop", "go"],
}
# Accents: English ones and other languages' voices reading the English word.
TRAIN_ACCENTS = ("en-us", "en-gb", "en-gb-x-rp", "en-029", "de", "fr", "it")
TEST_ACCENTS = ("en-gb-scotland", "en-us-nyc", "en-gb-x-gbclan", "nl", "es")
TRAIN_VARIANTS = ("m1", "m3", "m5", "f1", "f3", "klatt", "klatt3", "Annie", "Andy", "max")
TEST_VARIANTS = ("m2", "m4", "f2", "f4", "klatt2", "belinda", "Mike", "edward")
MANIFEST = "synth.json"


@dataclass(frozen=True)
class SynthSpec:
    """What a generated data set holds; its manifest, so a rerun can skip it."""

    words: str = "digits"
    train_speakers: int = 24
    test_speakers: int = 12
    takes: int = 1  # clips per speaker and word (each at its own speed and pitch)
    seed: int = 0


def espeak_binary() -> str | None:
    """The espeak-ng executable, or None when it is not installed."""
    return shutil.which("espeak-ng")


def speakers(accents: tuple[str, ...], variants: tuple[str, ...], n: int, rng) -> list[str]:
    """``n`` distinct ``accent+variant`` voices, drawn without replacement."""
    pairs = [f"{a}+{v}" for a, v in itertools.product(accents, variants)]
    if n > len(pairs):
        raise DataError(f"asked for {n} speakers; these accents and variants give {len(pairs)}")
    return [pairs[i] for i in sorted(rng.choice(len(pairs), n, replace=False))]


def _jobs(spec: SynthSpec, root: Path, rng) -> list[tuple[list[str], Path]]:
    """espeak-ng command lines and the file each one writes."""
    split_speakers = {
        "train": speakers(TRAIN_ACCENTS, TRAIN_VARIANTS, spec.train_speakers, rng),
        "test": speakers(TEST_ACCENTS, TEST_VARIANTS, spec.test_speakers, rng),
    }
    jobs = []
    for split, voices in split_speakers.items():
        for voice, word, take in itertools.product(voices, WORDS[spec.words], range(spec.takes)):
            speed, pitch = int(rng.integers(120, 200)), int(rng.integers(25, 75))
            name = voice.replace("+", "_")
            path = root / split / word / f"{name}-{take}.wav"
            command = ["-v", voice, "-s", str(speed), "-p", str(pitch), "-w", str(path), word]
            jobs.append((command, path))
    return jobs


def write_dataset(output: str | Path, spec: SynthSpec = SynthSpec(), workers: int = 2) -> Path:
    """Write the data set into ``output`` (atomically); skip when it is already there.

    Raises:
        DataError: espeak-ng is missing, or it failed on a voice.
    """
    output = Path(output)
    manifest = output / MANIFEST
    if manifest.is_file() and json.loads(manifest.read_text()) == asdict(spec):
        return output
    binary = espeak_binary()
    if binary is None:
        raise DataError(
            "espeak-ng is not installed; apt-get install espeak-ng (make espeak-ng does it "
            "when run as root)"
        )
    output.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=output.parent, prefix=f".{output.name}-"))
    try:
        jobs = _jobs(spec, tmp, np.random.default_rng(spec.seed))
        for _, path in jobs:
            path.parent.mkdir(parents=True, exist_ok=True)
        with ThreadPoolExecutor(workers) as pool:
            list(pool.map(lambda job: _speak(binary, *job), jobs))
        (tmp / MANIFEST).write_text(json.dumps(asdict(spec)))
        if output.exists():
            shutil.rmtree(output)
        tmp.rename(output)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp)
    return output


def _speak(binary: str, arguments: list[str], path: Path) -> None:
    done = subprocess.run([binary, *arguments], capture_output=True, text=True, check=False)
    if done.returncode != 0 or not path.is_file() or path.stat().st_size <= 44:
        message = (done.stderr or "no audio written").strip().splitlines()[0:1]
        raise DataError(f"espeak-ng {' '.join(arguments[:2])} failed: {' '.join(message)}")


# Festival voices built from recordings of real speakers (diphone concatenation, HTS):
# another synthesizer family than espeak's formants, for a harder held-out check.
FESTIVAL_VOICES = ("kal_diphone", "ked_diphone", "cmu_us_slt_arctic_hts")
FESTIVAL_STRETCHES = (0.85, 1.0, 1.2)  # Duration_Stretch: faster, normal, slower


def write_festival_set(output: str | Path, words: str = "digits", workers: int = 2) -> Path:
    """``OUTPUT/<word>/<voice>-<stretch>.wav`` spoken by Festival (``text2wave``).

    Raises:
        DataError: Festival (``apt-get install festival festvox-kallpc16k
            festvox-kdlpc16k festvox-us-slt-hts``) is missing, or a voice failed.
    """
    binary = shutil.which("text2wave")
    if binary is None:
        raise DataError(
            "Festival is not installed; apt-get install festival festvox-kallpc16k "
            "festvox-kdlpc16k festvox-us-slt-hts"
        )
    output = Path(output)
    jobs = []
    for voice, stretch, word in itertools.product(
        FESTIVAL_VOICES, FESTIVAL_STRETCHES, WORDS[words]
    ):
        path = output / word / f"{voice}-{stretch}.wav"
        path.parent.mkdir(parents=True, exist_ok=True)
        setup = f"(voice_{voice}) (Parameter.set 'Duration_Stretch {stretch})"
        jobs.append(([binary, "-eval", setup, "-o", str(path)], word, path))

    def speak(job: tuple[list[str], str, Path]) -> None:
        command, word, path = job
        done = subprocess.run(command, input=word, capture_output=True, text=True, check=False)
        if done.returncode != 0 or not path.is_file():
            raise DataError(f"text2wave {command[2]} failed: {done.stderr.strip()[:200]}")

    with ThreadPoolExecutor(workers) as pool:
        list(pool.map(speak, jobs))
    return output


def main(argv: list[str] | None = None) -> int:
    """``python -m tunelab.tasks.audio.synth OUTPUT [--words digits|commands] ...``"""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("output")
    parser.add_argument("--words", choices=sorted(WORDS), default="digits")
    parser.add_argument("--train-speakers", type=int, default=SynthSpec.train_speakers)
    parser.add_argument("--test-speakers", type=int, default=SynthSpec.test_speakers)
    parser.add_argument("--takes", type=int, default=SynthSpec.takes)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--festival", action="store_true", help="write a Festival-voiced set instead"
    )
    args = parser.parse_args(argv)
    if args.festival:
        try:
            out = write_festival_set(args.output, args.words)
        except DataError as err:
            print(f"error: {err}", file=sys.stderr)
            return 2
        print(f"{out}: {sum(1 for _ in out.rglob('*.wav'))} clips spoken by Festival")
        return 0
    spec = SynthSpec(args.words, args.train_speakers, args.test_speakers, args.takes, args.seed)
    try:
        out = write_dataset(args.output, spec)
    except DataError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    count = sum(1 for _ in out.rglob("*.wav"))
    print(
        f"{out}: {count} clips of {len(WORDS[spec.words])} {spec.words}, speakers "
        f"{spec.train_speakers} train / {spec.test_speakers} test (disjoint accents and variants)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
