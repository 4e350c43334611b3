"""Input validation of counts and sample metadata: every rule, with the message a user sees."""

from __future__ import annotations

import anndata as ad
import numpy as np
import pandas as pd
import pytest

from ssctrial.exceptions import InputError
from ssctrial.omics import assert_counts, assert_omics_samples, coerce_counts, read_counts


def _counts() -> pd.DataFrame:
    return pd.DataFrame({"s1": [1, 2, 3], "s2": [4, 5, 6]}, index=["A", "B", "C"])


def _samples() -> pd.DataFrame:
    return pd.DataFrame({"subject": ["p1", "p1"], "visit": ["BL", "W12"], "arm": ["CTRL", "CTRL"]},
                        index=["s1", "s2"])


@pytest.mark.parametrize(
    ("edit", "match"),
    [
        (lambda c: c.astype(float).assign(s1=[1.5, 2, 3]), r"non-integer values .* sample 's1', gene 'A'"),
        (lambda c: c.assign(s2=[4, -1, 6]), r"negative values .* sample 's2', gene 'B'"),
        (lambda c: c.astype(float).assign(s1=[np.nan, 2, 3]), "missing values"),
        (lambda c: c.astype(object).assign(s1=["x", 2, 3]), "non-numeric values"),
        (lambda c: c.set_axis(["A", "A", "C"]), r"duplicated genes: \['A'\]"),
        (lambda c: c.iloc[:0], "counts is empty"),
    ],
    ids=["fraction", "negative", "nan", "text", "dupgene", "empty"],
)
def test_bad_counts(edit, match):
    with pytest.raises(InputError, match=match):
        coerce_counts(edit(_counts()), _samples())


def test_counts_and_samples_must_match():
    with pytest.raises(InputError, match=r"have no row in samples, e.g. \['s2'\]"):
        coerce_counts(_counts(), _samples().iloc[:1])
    with pytest.raises(InputError, match="duplicated sample ids"):
        coerce_counts(_counts(), pd.concat([_samples(), _samples()]))
    with pytest.raises(InputError, match="expected a genes x samples pandas DataFrame or an AnnData"):
        coerce_counts(np.ones((2, 2)), _samples())


def test_anndata_and_dataframe_give_the_same_table():
    c = _counts()
    adata = ad.AnnData(X=c.T.to_numpy(), obs=_samples(), var=pd.DataFrame(index=c.index))
    a, sa = coerce_counts(adata, None)
    b, sb = coerce_counts(c, _samples())
    pd.testing.assert_frame_equal(a, b)
    pd.testing.assert_frame_equal(sa, sb)
    assert a.dtypes.unique().tolist() == [np.dtype("int64")]
    assert_counts(a)  # returns without error


def test_sample_rules():
    s = _samples()
    with pytest.raises(InputError, match=r"lacks column\(s\) \['arm'\]"):
        assert_omics_samples(s.drop(columns="arm"))
    two_arms = s.assign(arm=["CTRL", "BARI4"])
    with pytest.raises(InputError, match=r"'p1' appears in more than one arm \(\['BARI4', 'CTRL'\]\)"):
        assert_omics_samples(two_arms)
    twice = s.assign(visit=["BL", "BL"])
    with pytest.raises(InputError, match="subject 'p1' has more than one sample at visit 'BL'"):
        assert_omics_samples(twice)
    with pytest.raises(InputError, match=r"design visit\(s\) \['W24'\] have no samples"):
        assert_omics_samples(s, visits=["BL", "W24"])
    with pytest.raises(InputError, match=r"unknown arm\(s\) \['CTRL'\]; allowed: \['BARI4'\]"):
        assert_omics_samples(s, arms=["BARI4"])
    with pytest.raises(InputError, match="has missing values for samples"):
        assert_omics_samples(s.assign(visit=[None, "W12"]))


def test_read_counts_errors(tmp_path):
    with pytest.raises(InputError, match="does not exist"):
        read_counts(str(tmp_path / "none.h5ad"))
    bad = tmp_path / "bad.h5ad"
    bad.write_text("not hdf5")
    with pytest.raises(InputError, match="could not be read as AnnData"):
        read_counts(str(bad))
