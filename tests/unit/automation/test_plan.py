"""The diff between the file and the running state: creates, updates by field, deletes."""

from __future__ import annotations

from lanza.automation.plan import Plan, diff, field_changes, render


def test_equal_states_make_an_empty_plan() -> None:
    state = {("deployment", "a"): {"name": "a", "model": "m@champion"}}
    plan = diff(state, dict(state))
    assert plan.empty
    assert render(plan) == ["No changes: the running state matches the file."]


def test_create_update_delete_in_apply_order() -> None:
    running = {
        ("deployment", "a"): {"name": "a", "max_batch_size": 32, "traffic": []},
        ("schedule", "old"): {"name": "old"},
        ("alert", "a:drift_share>"): {"threshold": 0.3},
    }
    desired = {
        ("deployment", "a"): {"name": "a", "max_batch_size": 64, "traffic": []},
        ("deployment", "b"): {"name": "b"},
        ("model", "m"): {"name": "m"},
    }
    plan = diff(desired, running)
    assert [(c.action, c.kind, c.name) for c in plan.changes] == [
        ("delete", "schedule", "old"),
        ("delete", "alert", "a:drift_share>"),
        ("create", "model", "m"),
        ("update", "deployment", "a"),
        ("create", "deployment", "b"),
    ]
    update = plan.changes[3]
    assert [(f.field, f.before, f.after) for f in update.fields] == [("max_batch_size", 32, 64)]
    assert plan.counts() == {"create": 2, "update": 1, "delete": 2, "adopt": 0}
    assert render(plan) == [
        "- schedule old",
        "- alert a:drift_share>",
        "+ model m",
        "~ deployment a",
        "    max_batch_size: 32 -> 64",
        "+ deployment b",
        "Plan: 2 to create, 1 to update, 2 to delete.",
    ]


def test_nested_fields_are_compared_key_by_key() -> None:
    before = {"triggers": {"cron": None, "every": "1d", "alerts": []}, "margin": 0.0}
    after = {"triggers": {"cron": "0 3 * * *", "every": None, "alerts": []}, "margin": 0.0}
    found = [(f.field, f.before, f.after) for f in field_changes(before, after)]
    assert found == [("triggers.cron", None, "0 3 * * *"), ("triggers.every", "1d", None)]


def test_change_to_dict() -> None:
    plan: Plan = diff({("pipeline", "p"): {"margin": 0.1}}, {("pipeline", "p"): {"margin": 0.0}})
    assert plan.changes[0].to_dict() == {
        "action": "update",
        "kind": "pipeline",
        "name": "p",
        "adopt": False,
        "fields": [{"field": "margin", "before": 0.0, "after": 0.1}],
    }


def test_only_managed_resources_are_deleted_unless_pruned() -> None:
    running = {
        ("deployment", "mine"): {"name": "mine"},
        ("deployment", "hand"): {"name": "hand"},
        ("deployment", "other"): {"name": "other"},
        ("deployment", "named"): {"name": "named", "max_batch_size": 8},
        ("alert", "hand:f1<"): {"threshold": 0.8},
    }
    desired = {
        ("deployment", "named"): {"name": "named", "max_batch_size": 8},
        ("deployment", "edited"): {"name": "edited"},
    }
    running[("deployment", "edited")] = {"name": "edited", "device": "cpu"}
    managed = {("deployment", "mine")}
    plan = diff(desired, running, managed)
    assert [(c.action, c.kind, c.name, c.adopt) for c in plan.changes] == [
        ("delete", "deployment", "mine", False),
        ("update", "deployment", "edited", True),
        ("adopt", "deployment", "named", True),
    ]
    assert plan.unmanaged == [
        ("alert", "hand:f1<"),
        ("deployment", "hand"),
        ("deployment", "other"),
    ]
    assert plan.counts() == {"create": 0, "update": 1, "delete": 1, "adopt": 2}
    assert render(plan) == [
        "- deployment mine",
        "~ deployment edited (adopt)",
        "    device: 'cpu' -> (unset)",
        "= deployment named (adopt)",
        "Plan: 0 to create, 1 to update, 1 to delete, 2 to adopt.",
        "2 deployments not managed by lanza.yaml: hand, other — kept; --prune deletes them.",
        "1 alert rule not managed by lanza.yaml: hand:f1< — kept; --prune deletes it.",
    ]
    pruned = diff(desired, running, managed, prune=True)
    assert pruned.unmanaged == []
    assert [(c.action, c.name) for c in pruned.changes if c.action == "delete"] == [
        ("delete", "hand:f1<"),
        ("delete", "hand"),
        ("delete", "mine"),
        ("delete", "other"),
    ]
