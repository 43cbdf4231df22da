"""Stage: models - Bayesian attribute weights per (judge, group).

Flow (split by responsibility, like Bambi):

* :mod:`.features` - read and validate a features table (``FeatureTable``);
* :mod:`.spec` - the validated ``FitSpec`` (model, prior, sampler, draws, thresholds);
* :mod:`.posterior` / :mod:`.nuts` - the model built from the spec: a numpy log-posterior for
  the default engine, a ``pymc.Model`` for NUTS;
* :mod:`.laplace` + :mod:`.importance` - the default engine: Laplace+EP Gaussian
  approximation refined by Pareto-smoothed importance sampling;
* :mod:`.cells` - one fit per (judge, group), NUTS fallback, diagnostics, :mod:`.checks`
  (k-fold accuracy, posterior predictive check), :mod:`.checkpoint` (resume);
* :mod:`.idata` - all fits in one ArviZ ``InferenceData`` (``fit.nc``);
* :mod:`.external` - externally fitted (GAIR) weights in the same shape;
* :mod:`.simulate` - planted-weight simulations for validation.
"""
