from __future__ import annotations

import pytest

from ssctrial.exceptions import InputError, PermissionDeniedError, StateError

AE = {
    "term": "Herpes zoster",
    "body_system": "Infections and infestations",
    "start_date": "2024-03-01",
    "grade": 2,
    "serious": "no",
    "relatedness": "possible",
    "outcome": "recovered",
    "stop_date": "2024-03-20",
}


def test_record_adverse_event(store):
    ae_id = store.record_adverse_event("S001", user="ivan", **AE)
    table = store.read_table("adverse_event")
    assert table["id"].tolist() == [ae_id]
    row = table.iloc[0]
    assert (row["term"], row["grade"], bool(row["serious"]), row["relatedness"]) == (
        "Herpes zoster",
        2,
        False,
        "possible",
    )


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"grade": 6}, "grade 6 is not allowed; expected a CTCAE grade 1-5"),
        ({"grade": "2.5"}, "grade '2.5' is not allowed"),
        ({"serious": "maybe"}, "serious 'maybe' is not allowed; expected yes or no"),
        ({"relatedness": "likely"}, "relatedness 'likely' is not allowed; expected one of not_related"),
        ({"outcome": "fine"}, "outcome 'fine' is not allowed"),
        ({"start_date": "2099-01-01", "stop_date": None}, "start_date 2099-01-01 is in the future"),
        ({"start_date": "2023-01-01"}, "start_date 2023-01-01 is before consent"),
        ({"stop_date": "2024-02-01"}, "stop_date 2024-02-01 is before start_date 2024-03-01"),
        ({"term": " "}, "term is required"),
        ({"grade": 5, "outcome": "recovered"}, "a grade 5 adverse event is fatal"),
    ],
    ids=[
        "grade-6",
        "grade-fraction",
        "serious",
        "relatedness",
        "outcome",
        "future",
        "before-consent",
        "stop-before-start",
        "empty-term",
        "grade5-not-fatal",
    ],
)
def test_bad_adverse_events_are_refused(store, change, message):
    with pytest.raises(InputError, match=message):
        store.record_adverse_event("S001", user="ivan", **{**AE, **change})
    assert len(store.read_table("adverse_event")) == 0


def test_monitor_cannot_record_adverse_events(store):
    with pytest.raises(PermissionDeniedError, match="role 'monitor'"):
        store.record_adverse_event("S001", user="mona", **AE)


def test_samples(store):
    store.record_sample(
        "BS-1",
        user="ivan",
        subject_id="S001",
        visit="BL",
        assay="rnaseq",
        counts_path="counts/S001_BL.h5ad",
        collected_date="2024-01-20",
    )
    with pytest.raises(StateError, match="sample 'BS-1' is already recorded"):
        store.record_sample("BS-1", user="ivan", subject_id="S001", visit="BL", assay="rnaseq")
    with pytest.raises(InputError, match="counts_path 'x.csv' is not allowed; expected an .h5ad file"):
        store.record_sample(
            "BS-2", user="ivan", subject_id="S001", visit="BL", assay="rnaseq", counts_path="x.csv"
        )
    with pytest.raises(InputError, match="assay 'dna' is not allowed"):
        store.record_sample("BS-2", user="ivan", subject_id="S001", visit="BL", assay="dna")
    with pytest.raises(InputError, match="unknown visit 'W2'"):
        store.record_sample("BS-2", user="ivan", subject_id="S001", visit="W2", assay="rnaseq")
    assert store.read_table("sample")["counts_path"].tolist() == ["counts/S001_BL.h5ad"]
