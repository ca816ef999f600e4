"""The SacralTumorAI panel of the browser app (Vuetify): load, Segment/Cancel with progress, segments and
location, clinical form, Classify with probabilities as bars and a table, downloads. Element ids (``sta-*``)
are the contract with the end-to-end test."""

from __future__ import annotations

from collections.abc import Callable

from trame.widgets import html
from trame.widgets.vuetify3 import (
    VAlert,
    VBtn,
    VCard,
    VCardText,
    VCardTitle,
    VDivider,
    VFileInput,
    VProgressLinear,
    VSelect,
    VTable,
    VTextField,
)

from SacralTumorAIWeb.workflow_logic import DOWNLOADS

UPLOAD_TYPES = ".nii,.nii.gz,.nrrd,.nhdr,.mha,.mhd,.zip"


class SacralTumorAIPanel(VCard):
    """Built inside trame-slicer's drawer. ``actions`` maps names to server callbacks: segment, cancel,
    classify, remove_sequence (called with the sequence's kind), and ``download`` (a trigger returning an attachment for a ``DOWNLOADS`` key)."""

    def __init__(self, actions: dict[str, Callable], download_trigger: str, max_upload_mb: int, **kwargs) -> None:
        super().__init__(flat=True, classes="pa-2", **kwargs)
        with self:
            VCardTitle("SacralTumorAI")
            VAlert(text="Research use only. Not for diagnosis.", type="warning", density="compact", variant="tonal", classes="mb-2")
            with VCardText(classes="pa-1"):
                VFileInput(
                    id="sta-upload", v_model=("sta_upload", None), label=f"Open a volume (NIfTI, NRRD, MHA, DICOM .zip; up to {max_upload_mb} MB)",
                    accept=UPLOAD_TYPES, density="compact", show_size=True, disabled=("sta_busy",),
                )
                html.Div("Volume: {{ sta_volume_name || 'none' }}", id="sta-volume", classes="text-body-2 mb-1")
                VSelect(id="sta-input-kind", v_model=("sta_input_kind",), items=("sta_input_kinds",), label="The volume is", density="compact", disabled=("sta_busy",))
                with html.Div(id="sta-sequences", v_if=("sta_volume_name && sta_input_kind !== 'ct'",), classes="mb-2"):
                    html.Div("Other sequences of this study (T2-w with CET1-w: the T2-fusion model)", classes="text-caption")
                    with html.Div(v_for="row in sta_sequences", classes="d-flex align-center sta-sequence"):
                        html.Div("{{ row.title }}: {{ row.name }}", classes="text-body-2 flex-grow-1")
                        VBtn(icon="mdi-close", size="x-small", variant="text", click=(actions["remove_sequence"], "[row.kind]"), disabled=("sta_busy",), classes="sta-sequence-remove")
                    with html.Div(classes="d-flex ga-2"):
                        VSelect(id="sta-sequence-kind", v_model=("sta_sequence_kind",), items=("sta_sequence_kinds",), label="Add", density="compact", disabled=("sta_busy",), style="max-width: 130px")
                        VFileInput(
                            id="sta-sequence-upload", v_model=("sta_sequence_upload", None), label="file of that sequence",
                            accept=UPLOAD_TYPES, density="compact", disabled=("sta_busy",),
                        )
                with html.Div(classes="d-flex ga-2"):
                    VBtn("Segment", id="sta-segment", color="primary", click=actions["segment"], disabled=("sta_busy || !sta_volume_name",))
                    VBtn("Cancel", id="sta-cancel", click=actions["cancel"], v_if=("sta_busy",))
                VProgressLinear(id="sta-progress", v_if=("sta_busy",), model_value=("sta_progress",), height=8, color="primary", classes="my-2")
                html.Div("{{ sta_status }}", id="sta-status", classes="text-caption")
                VAlert(id="sta-error", v_if=("sta_error",), text=("sta_error",), type="error", density="compact", variant="tonal", classes="my-2", style="white-space: pre-line")
                VDivider(classes="my-2")
                with html.Div(id="sta-segments", v_if=("sta_segments.length",)):
                    html.Div("Segments", classes="text-subtitle-2")
                    html.Div("{{ segment.name }}: {{ segment.ml }} mL", v_for="segment in sta_segments", classes="text-body-2 sta-segment")
                with html.Div(id="sta-location", v_if=("sta_location.length",), classes="mt-2"):
                    html.Div("Location (hip frame)", classes="text-subtitle-2")
                    html.Div("{{ line }}", v_for="line in sta_location", classes="text-body-2")
                VDivider(classes="my-2")
                html.Div("Clinical data (leave empty when not known)", classes="text-subtitle-2")
                VTextField(id="sta-age", v_model=("sta_age",), label="Age (years)", type="number", density="compact")
                VSelect(id="sta-sex", v_model=("sta_sex",), items=("[{title: 'not known', value: ''}, {title: 'F', value: 'F'}, {title: 'M', value: 'M'}]",), label="Sex", density="compact")
                VBtn("Classify", id="sta-classify", color="primary", click=actions["classify"], disabled=("sta_busy || !sta_segments.length",))
                with VTable(id="sta-probabilities", v_if=("sta_probabilities.length",), density="compact", classes="mt-2"):
                    with html.Tbody():
                        with html.Tr(v_for="row in sta_probabilities", classes="sta-probability"):
                            html.Td("{{ row.name }}", classes="sta-class")
                            html.Td("{{ (100 * row.value).toFixed(1) }} %", classes="sta-percent", style="white-space: nowrap")
                            html.Td("{{ row.value }}", classes="sta-value d-none")  # exact, for tests and copy-paste
                            with html.Td(style="width: 40%"):
                                VProgressLinear(model_value=("100 * row.value",), height=10, color="red-lighten-1")
                html.Div("{{ warning }}", v_for="warning in sta_classification_warnings", classes="text-caption text-orange")
                VDivider(classes="my-2")
                html.Div("Downloads", classes="text-subtitle-2")
                with html.Div(classes="d-flex flex-wrap ga-1"):
                    for key, (suffix, mime) in DOWNLOADS.items():
                        VBtn(
                            f"segmentation{suffix}" if key != "report" else "report.png", id=f"sta-download-{key}", size="small", variant="outlined",
                            disabled=("sta_busy || !sta_segments.length",),
                            click=f"utils.download('segmentation{suffix}', trigger('{download_trigger}', ['{key}']), '{mime}')",
                        )
