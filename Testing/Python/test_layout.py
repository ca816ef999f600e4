"""The house rules, checked: extension layout, layer boundaries, .ui bindings, README and CI in step."""

from __future__ import annotations

import ast
import json
import re
import xml.etree.ElementTree as ElementTree
from pathlib import Path

from packaging.requirements import Requirement

from SacralTumorAILib.dependencies import read_requirements, unmet_requirements

REPO = Path(__file__).resolve().parents[2]
MODULE = REPO / "SacralTumorAI"


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module.split(".")[0])
    return names


def test_extension_wizard_layout() -> None:
    for relative in (
        "CMakeLists.txt",
        "LICENSE",
        "README.md",
        "SacralTumorAI.json",
        "Resources/Icons/SacralTumorAI.png",
        "SacralTumorAI/CMakeLists.txt",
        "SacralTumorAI/SacralTumorAI.py",
        "SacralTumorAI/Resources/UI/SacralTumorAI.ui",
        "SacralTumorAI/Resources/Icons/SacralTumorAI.png",
        "SacralTumorAI/Resources/requirements.txt",
        "SacralTumorAI/Testing/Python/CMakeLists.txt",
    ):
        assert (REPO / relative).is_file(), relative
    cmake = (REPO / "CMakeLists.txt").read_text()
    assert 'set(EXTENSION_CATEGORY "Segmentation")' in cmake
    assert 'set(EXTENSION_DEPENDS "PyTorch")' in cmake
    assert "add_subdirectory(SacralTumorAI)" in cmake
    assert "slicerMacroBuildScriptedModule" in (MODULE / "CMakeLists.txt").read_text()
    entry = json.loads((REPO / "SacralTumorAI.json").read_text())
    assert entry["category"] == "Segmentation" and entry["build_dependencies"] == ["PyTorch"]
    assert "Apache License" in (REPO / "LICENSE").read_text()[:200]


def test_core_is_free_of_slicer_vtk_and_qt() -> None:
    forbidden = {"slicer", "vtk", "vtkmodules", "qt", "ctk", "PythonQt", "SacralTumorAILib", "SacralTumorAI"}
    for path in (MODULE / "sacral_tumor_ai").rglob("*.py"):
        assert not (_imports(path) & forbidden), f"{path} imports {_imports(path) & forbidden}"


def test_scene_layer_uses_no_application_globals() -> None:
    # slicer-core and trame-slicer have no application, module registry or Qt.
    application_globals = {"util", "app", "mrmlScene", "modules"}
    for path in (MODULE / "SacralTumorAILib").rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        used = {
            node.attr
            for node in ast.walk(tree)
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "slicer"
        }
        assert not (used & application_globals), f"{path} uses slicer.{used & application_globals}"
        assert not (_imports(path) & {"qt", "ctk"}), path


def test_ui_has_every_widget_and_parameter_the_module_binds() -> None:
    tree = ElementTree.parse(MODULE / "Resources" / "UI" / "SacralTumorAI.ui")
    widgets = {element.get("name") for element in tree.iter("widget")}
    bound_parameters = {
        element.find("string").text
        for element in tree.iter("property")
        if element.get("name") == "SlicerParameterName"
    }
    source = (MODULE / "SacralTumorAI.py").read_text(encoding="utf-8")
    used = set(re.findall(r"self\.ui\.(\w+)", source))
    assert used and used <= widgets, used - widgets
    module = ast.parse(source)
    wrapper = next(
        node for node in module.body if isinstance(node, ast.ClassDef) and node.name == "SacralTumorAIParameterNode"
    )
    fields = {statement.target.id for statement in wrapper.body if isinstance(statement, ast.AnnAssign)}
    assert bound_parameters == fields, bound_parameters ^ fields  # every parameter has its widget, and back
    # A Choice's values are exactly its combo box's items, in order (the wrapper selects by text).
    items = {
        widget.get("name"): [item.find("property/string").text for item in widget.findall("item")]
        for widget in tree.iter("widget")
        if widget.get("class") == "QComboBox"
    }
    parameter_widget = {
        element.find("string").text: widget.get("name")
        for widget in tree.iter("widget")
        for element in widget.findall("property")
        if element.get("name") == "SlicerParameterName"
    }
    for statement in wrapper.body:
        if isinstance(statement, ast.AnnAssign) and "Choice" in ast.unparse(statement.annotation):
            choices = ast.literal_eval(re.search(r"Choice\((\[.*?\])\)", ast.unparse(statement.annotation)).group(1))
            assert items[parameter_widget[statement.target.id]] == choices, statement.target.id


def test_requirements_parse_and_report_what_is_missing() -> None:
    names = {requirement.name for requirement in read_requirements()}
    assert {"monai", "segmentation-models-pytorch", "antspyx"} <= names
    assert "SimpleITK" not in names  # Slicer ships its own; a pip copy would shadow it
    unmet = unmet_requirements([Requirement("numpy>=1.0"), Requirement("numpy<1.0"), Requirement("no-such-package-xyz")])
    assert len(unmet) == 2
    assert unmet[0].startswith("numpy<1.0 (found ") and unmet[1] == "no-such-package-xyz (not installed)"


def test_ci_runs_exactly_the_readme_test_command() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    block = re.search(r"```bash\n(.*?)```", readme, re.DOTALL).group(1).strip().splitlines()
    assert len(block) == 2, "README's quick start is two commands"
    ci = (REPO / ".ci" / "run").read_text(encoding="utf-8").strip().splitlines()
    assert ci[-1] == block[1]
    assert "bash scripts/setup.sh" in block[0] and "bash scripts/setup.sh" in ci


def test_front_ends_do_not_load_torch() -> None:
    # torch (and triton's LLVM) must stay out of a front end's process: it crashes against the renderer's
    # native libraries there. Long steps run as core commands in a background process instead.
    import subprocess
    import sys

    code = "import sys, SacralTumorAILib.logic, SacralTumorAIWeb.app; print(sorted(m for m in ('torch', 'triton', 'monai') if m in sys.modules))"
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert loaded == "[]", loaded
