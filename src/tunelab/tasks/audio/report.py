"""Audio's own report section: waveform and spectrogram thumbnails of misclassified clips.

The run records up to :data:`MISCLASSIFIED_LISTED` misclassified test clips in
``metrics.json`` (``test.misclassified``: file, true and predicted label, probability);
the report re-reads those files, so a clip moved since the run is listed without its
thumbnail.
"""

from __future__ import annotations

from html import escape
from typing import Any

import numpy as np
import torch
from markupsafe import Markup

MISCLASSIFIED_LISTED = 8
SECTION_TITLE = "Misclassified test clips"


def misclassified(predictor, clips, limit: int = MISCLASSIFIED_LISTED) -> list[dict[str, Any]]:
    """The first ``limit`` test clips the model gets wrong, with what it said."""
    probs = predictor.predict_proba([w.numpy() for w in clips.waves])
    predicted = probs.argmax(-1)
    wrong = []
    for i, label in enumerate(clips.labels):
        guess = predictor.labels[int(predicted[i])]
        if guess != label:
            wrong.append(
                {
                    "file": clips.names[i],
                    "true": label,
                    "predicted": guess,
                    "probability": round(float(probs[i, predicted[i]]), 4),
                }
            )
    return wrong[:limit]


def audio_report_sections(run: Any) -> list:
    """Thumbnails of the recorded misclassified clips (none when none were recorded)."""
    from tunelab.report.sections import ReportSection

    wrong = run.metrics.test_details.get("misclassified") or []
    if not wrong:
        return []
    rows = "".join(
        f"<tr><td class='label'>{escape(str(w['file']))}</td><td>{escape(str(w['true']))}</td>"
        f"<td>{escape(str(w['predicted']))}</td><td>{w['probability']:.2f}</td></tr>"
        for w in wrong
    )
    table = Markup(
        "<table class='num'><thead><tr><th>file</th><th>true</th><th>predicted</th>"
        f"<th>p</th></tr></thead><tbody>{rows}</tbody></table>"
    )
    return [
        ReportSection(
            title=SECTION_TITLE,
            html=table,
            figure=_thumbnails(wrong),
            alt=f"waveforms and spectrograms of misclassified clips of {run.strategy}",
            caption="Each clip as recorded: waveform above, log spectrogram below.",
            lead=f"Test split, first {len(wrong)}.",
            layout="stack",
        )
    ]


def _thumbnails(wrong: list[dict[str, Any]]) -> str | None:
    from tunelab.report.plotting import styled_figure, to_data_uri
    from tunelab.tasks.audio.decode import UNREADABLE, read_audio

    with styled_figure(2.2 * len(wrong), 3.0) as fig:
        axes = fig.subplots(2, len(wrong), squeeze=False)
        for column, item in enumerate(wrong):
            top, bottom = axes[0][column], axes[1][column]
            top.set_title(f"{item['true']} → {item['predicted']}", fontsize=8)
            try:
                wave, rate, _ = read_audio(item["file"])
            except UNREADABLE:
                top.text(0.5, 0.5, "file gone", ha="center", transform=top.transAxes)
                continue
            top.plot(np.arange(len(wave)) / rate, wave, linewidth=0.4)
            bottom.imshow(_log_spectrogram(wave), origin="lower", aspect="auto", cmap="magma")
            for ax in (top, bottom):
                ax.set_xticks([])
                ax.set_yticks([])
        return to_data_uri(fig)


def _log_spectrogram(wave: np.ndarray, n_fft: int = 512, hop: int = 128) -> np.ndarray:
    """``log(1 + |STFT|)`` of a clip, frequency up."""
    if len(wave) < n_fft:
        wave = np.pad(wave, (0, n_fft - len(wave)))
    spec = torch.stft(
        torch.from_numpy(wave.astype(np.float32)),
        n_fft,
        hop,
        window=torch.hann_window(n_fft),
        return_complex=True,
    )
    return np.log1p(spec.abs().numpy())
