#!/usr/bin/env python3
"""A real speech magnitude spectrogram for benchmarks: the US English prompts of Debian's
asterisk-core-sounds-en-wav (568 recordings of one speaker, 8 kHz, about 25 minutes),
concatenated in file-name order, Hann window of 1024 samples, hop 256 -> frames x 513 (N x F).

  apt-get install asterisk-core-sounds-en-wav python3-numpy
  python3 bench/speech_spectrogram.py --frames 22902 --out bench/results/speech.npy
"""
import argparse
import glob
import os
import sys
import wave

import numpy as np

SOUNDS = '/usr/share/asterisk/sounds/en_US_f_Allison'


def samples(folder):
    files = sorted(glob.glob(os.path.join(folder, '**', '*.wav'), recursive=True))
    if not files:
        sys.exit(f'speech_spectrogram: no .wav files under {folder} (apt-get install asterisk-core-sounds-en-wav)')
    parts = []
    for f in files:
        with wave.open(f) as w:
            if w.getsampwidth() != 2 or w.getnchannels() != 1:
                continue
            parts.append(np.frombuffer(w.readframes(w.getnframes()), dtype='<i2').astype(np.float64) / 32768.0)
    return np.concatenate(parts)


def spectrogram(x, n_fft=1024, hop=256):
    window = np.hanning(n_fft)
    frames = 1 + (len(x) - n_fft) // hop
    idx = np.arange(n_fft)[None, :] + hop * np.arange(frames)[:, None]
    return np.abs(np.fft.rfft(x[idx] * window, axis=1))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--frames', type=int, default=0, help='rows to keep (0: all, about 47700)')
    ap.add_argument('--dtype', default='float32', choices=['float32', 'float64'])
    ap.add_argument('--sounds', default=SOUNDS)
    ap.add_argument('--out', required=True)
    a = ap.parse_args()
    S = spectrogram(samples(a.sounds))
    if a.frames:
        S = S[:a.frames]
    # Silence between prompts gives exact zeros in no bin (the window leaks), but keep X > 0
    # for beta <= 0 all the same.
    S = np.maximum(S, 1e-6).astype(a.dtype)
    os.makedirs(os.path.dirname(os.path.abspath(a.out)), exist_ok=True)
    np.save(a.out, S)
    print(f'{a.out}: {S.shape[0]}x{S.shape[1]} {a.dtype}, mean {S.mean():.4g}', file=sys.stderr)


if __name__ == '__main__':
    main()
