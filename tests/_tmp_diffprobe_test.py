import json
from test_diff import *  # noqa
def test_probe(project):
    project.commit("german vip headline", {
        "atoms/headline-vip-de.yaml": "slot: headline\nstatus: approved\nsegments: [vip]\nlocale: de\ntext: Deine VIP-Ausrüstung wartet\n"})
    d = project.diff("HEAD~1","HEAD").data
    print(json.dumps({k: d[k] for k in ("coverage","atoms")}, indent=1))
    print([(v["id"], v["change"]) for v in d["variants"]])
    project.commit("german body", {
        "atoms/body-de.yaml": "slot: body\nstatus: approved\nlocale: de\ntext: Danke fürs Mitmachen.\n"})
    d = project.diff("HEAD~2","HEAD").data
    print(json.dumps({k: d[k] for k in ("coverage","atoms")}, indent=1))
    print([(v["id"], v["change"]) for v in d["variants"]])
