"""The classifier's answer as MRML nodes: a probabilities table and a bar chart of it."""

from __future__ import annotations

import json
from typing import Any

CLASSIFICATION_ATTRIBUTE = "SacralTumorAI.Classification"


def _string_column(table, title: str) -> None:
    import vtk

    column = vtk.vtkStringArray()
    column.SetName(title)
    table.AddColumn(column)


def add_probability_table(scene, classification: dict[str, Any], name: str = "Tumour type probabilities"):
    """One row per class, most probable first: Class (text), Probability (0-1, numeric for the chart),
    Percent (text); the full classification (inputs used, warnings, model) in an attribute."""
    import vtk

    node = scene.AddNewNodeByClass("vtkMRMLTableNode", name)
    table = node.GetTable()
    _string_column(table, "Class")
    probability = vtk.vtkDoubleArray()
    probability.SetName("Probability")
    table.AddColumn(probability)
    _string_column(table, "Percent")
    for class_name in classification["ranking"]:
        value = float(classification["probabilities"][class_name])
        row = node.AddEmptyRow()
        node.SetCellText(row, 0, class_name.replace("_", " "))
        table.SetValue(row, 1, value)
        node.SetCellText(row, 2, f"{100 * value:.1f} %")
    node.SetAttribute(CLASSIFICATION_ATTRIBUTE, json.dumps(classification))
    return node


def add_probability_chart(scene, table_node, name: str = "Tumour type probabilities"):
    """A bar chart of the table's Probability column labelled by Class. Returns (chart, series)."""
    series = scene.AddNewNodeByClass("vtkMRMLPlotSeriesNode", f"{name} series")
    series.SetAndObserveTableNodeID(table_node.GetID())
    series.SetPlotType(series.PlotTypeBar)
    series.SetYColumnName("Probability")
    series.SetLabelColumnName("Class")
    series.SetColor(0.90, 0.20, 0.15)
    chart = scene.AddNewNodeByClass("vtkMRMLPlotChartNode", name)
    chart.AddAndObservePlotSeriesNodeID(series.GetID())
    chart.SetTitle("Tumour type probabilities (research use only)")
    chart.SetYAxisTitle("probability")
    chart.SetYAxisRangeAuto(False)
    chart.SetYAxisRange(0.0, 1.0)
    return chart, series


def classification_from_table(table_node) -> dict[str, Any]:
    """The classification a table node was made from."""
    return json.loads(table_node.GetAttribute(CLASSIFICATION_ATTRIBUTE) or "{}")
