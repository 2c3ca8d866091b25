import json, shutil
from test_diff import Project, REPO  # noqa
def test_probe(tmp_path, monkeypatch):
    root = tmp_path / "demo"; root.mkdir()
    project = Project(root, monkeypatch); project.git("init", "-q")
    shutil.copytree(REPO / "content", project.content); project.commit("demo")
    p = project.content / "atoms/welcome/welcome-day3-headline-new-customer-de.yaml"
    project.commit("edit", {"atoms/welcome/welcome-day3-headline-new-customer-de.yaml": p.read_text().replace("Neu hier?", "Zum ersten Mal hier?")})
    d = project.diff("HEAD~1", "HEAD").data
    print([(v["id"], v["change"], v["journey"]) for v in d["variants"]])
    print(json.dumps(d["journeys"], indent=0)); print(json.dumps(d["atoms"], indent=0))
    print(json.dumps(d["coverage"])[:2000])
