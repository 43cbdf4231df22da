"""Builders of small run directories for the report tests (this module holds no tests).

Pairs are real hh-rlhf pairs (bundled data, real loader) plus one pair whose response carries
XSS payloads; annotations come from the real rules annotator, features from the real
comparator, the manifest from :class:`preference_dissect.manifest.Manifest`. The posterior is
hand-made (the real fit takes minutes on these tiny groups) but assembled and written by the
fit stage's own ``build_idata`` / ``save_fit``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from preference_dissect.annotate.rules import RulesAnnotator
from preference_dissect.compare import build_features
from preference_dissect.io import write_parquet
from preference_dissect.load import load_source
from preference_dissect.load.schema import PairDataset, make_pair_id, write_dataset
from preference_dissect.manifest import Manifest

REPO = Path(__file__).resolve().parent.parent
HH = REPO / "data" / "hh-rlhf" / "harmless-base-test.jsonl.gz"

XSS_SCRIPT = "<script>window.__xss=1</script>"
XSS_IMG = '<img src=x onerror="window.__xss=2">'
XSS_RESPONSE = f"Here you go: {XSS_SCRIPT} and {XSS_IMG} -- rendered as text?"
XSS_PROMPT = "Print some <b>HTML</b> & 'quotes' for me"
SECRET_KEY = "sk-test-DO-NOT-LEAK-0123456789abcdef"


def make_dataset(n: int = 60, seed: int = 0) -> PairDataset:
    """The first ``n - 1`` hh-rlhf pairs (real loader, sides randomised) after one pair whose
    response carries XSS payloads; scenarios assigned in turn (as ``prefdissect classify``
    would) so that there are several groups; judges ``human`` (the data's label) and
    ``longer`` (prefers the longer response)."""
    hh = load_source("bundled:hh-rlhf", limit=n - 1, seed=seed)
    xss_a, xss_b = XSS_RESPONSE, "A plain answer without markup."
    xss = {
        "pair_id": make_pair_id(XSS_PROMPT, xss_a, xss_b),
        "conversation": [],
        "prompt": XSS_PROMPT,
        "response_a": xss_a,
        "response_b": xss_b,
        "source": "hh-rlhf",
        "meta": "{}",
    }
    pairs = pd.concat([pd.DataFrame([xss]), hh.pairs], ignore_index=True)
    pairs["scenario"] = [("Advice", "Communication", "Unsafe Queries")[i % 3] for i in range(n)]
    human = pd.concat(
        [
            pd.DataFrame([{"pair_id": xss["pair_id"], "judge": "human", "winner": "a"}]),
            hh.labels[["pair_id", "judge", "winner"]],
        ],
        ignore_index=True,
    )
    longer = pd.DataFrame(
        {
            "pair_id": pairs["pair_id"],
            "judge": "longer",
            "winner": np.where(
                pairs["response_a"].str.len() >= pairs["response_b"].str.len(), "a", "b"
            ),
        }
    )
    return PairDataset(pairs, pd.concat([human, longer], ignore_index=True))


def fake_posterior(features: pd.DataFrame, seed: int = 0, bad_fit: bool = True):
    """A hand-made posterior in the documented ``fit.nc`` shape, assembled by the fit stage's
    own :func:`~preference_dissect.fit.idata.build_idata`: one fit per (judge, group) but
    the last judge's ``all`` (missing), and, if ``bad_fit``, one fit that has not mixed (the
    second chain sits elsewhere, R-hat >> 1.01, three divergences)."""
    from preference_dissect.fit.cells import CellFit
    from preference_dissect.fit.idata import build_idata

    rng = np.random.default_rng(seed)
    attrs = [c for c in features.columns if c not in ("pair_id", "judge", "group", "y")]
    judges = list(dict.fromkeys(features["judge"]))
    groups = list(dict.fromkeys(features["group"]))
    chains, draws = 2, 500
    cells = {}
    for ji, judge in enumerate(judges):
        for gi, group in enumerate(groups):
            if ji == len(judges) - 1 and gi == 0:
                continue  # a fit that does not exist
            centre = rng.normal(0, 0.25, size=len(attrs))
            w = centre + rng.normal(0, 0.08, (chains, draws, len(attrs)))
            bad = bad_fit and ji == 0 and gi == len(groups) - 1
            if bad:
                w[1] += 1.0
            cells[(judge, group)] = CellFit(
                weight=w,
                intercept=None,
                sigma=None,
                method="nuts",
                n=int(((features["judge"] == judge) & (features["group"] == group)).sum()),
                rhat_max=1.83 if bad else 1.002,
                ess_bulk_min=3.0 if bad else 900.0,
                divergences=3 if bad else 0,
                pareto_k=float("nan"),
                accuracy=0.6,
                ppc_p_share=0.5,
                ppc_p_agree=np.full(len(attrs), 0.5),
                seconds=0.1,
                notes=["R-hat 1.830 > 1.01"] if bad else [],
            )
    notes = [n for c in cells.values() for n in c.notes]
    return build_idata(
        judges,
        groups,
        attrs,
        chains,
        draws,
        cells,
        attrs={"spec": '{"rhat_max": 1.01, "ess_min": 400.0}', "warnings": notes},
    )


def real_fit(features: pd.DataFrame):
    """The fit stage's own fit (Laplace + importance sampling, NUTS fallback) of every
    (judge, group) of ``features``."""
    from preference_dissect.fit.cells import fit_table
    from preference_dissect.fit.features import validate_features
    from preference_dissect.fit.idata import build_idata
    from preference_dissect.fit.spec import FitSpec

    table = validate_features(features)
    spec = FitSpec(seed=0, min_group_size=5)  # the fixture's groups are small on purpose
    cells = fit_table(table, spec)
    notes = [n for c in cells.values() for n in c.notes]
    return build_idata(
        table.judges,
        table.groups,
        table.attributes,
        spec.chains,
        spec.draws,
        cells,
        attrs={"spec": spec.to_json(), "warnings": notes},
    )


def build_run_dir(
    run: Path, n: int = 60, *, fit: str | None = "fake", manifest: bool = True
) -> Path:
    """Write pairs, annotations, features (and a fit and a manifest) into ``run``.

    ``fit`` is ``"fake"`` (:func:`fake_posterior`, with a fit that has not converged),
    ``"real"`` (:func:`real_fit`) or ``None`` (no ``fit.nc``).
    """
    run.mkdir(parents=True, exist_ok=True)
    m = Manifest(run, argv=["prefdissect", "run", "--api-key", SECRET_KEY])
    m.add_secret(SECRET_KEY)
    ds = make_dataset(n)
    write_dataset(ds, run / "pairs.parquet")
    m.set_input([HH], source="bundled:hh-rlhf")
    m.record_stage("load", 0.4, pairs=len(ds.pairs))
    annotator = RulesAnnotator()
    ann = annotator.annotate(ds.pairs)
    write_parquet(ann, run / "annotations.parquet")
    m.add_annotator(
        "rules",
        version=annotator.version,
        base_url=f"http://user:{SECRET_KEY}@127.0.0.1:8080/v1?api_key={SECRET_KEY}",
    )
    m.add_usage("annotate", prompt_tokens=1200, completion_tokens=300, requests=4, cost_usd=0.01)
    m.record_stage("annotate", 1.2, rows=len(ann))
    feats, _ = build_features(ann, ds)
    write_parquet(feats, run / "features.parquet")
    m.record_stage("features", 0.3, rows=len(feats))
    if fit:
        from preference_dissect.fit.idata import save_fit

        idata = real_fit(feats) if fit == "real" else fake_posterior(feats)
        save_fit(idata, run / "fit.nc")
        m.record_stage("fit", 2.0, fits=int(idata.posterior.sizes["judge"]))
    if manifest:
        m.write()
    return run
