# Reference values for ssctrial.stats.pool_rubin: mice::pool.scalar on stored per-imputation results.
# Run from the repository root: Rscript tests/reference/stats/mi_pool/generate.R
library(jsonlite)
library(mice)
set.seed(20250517)
cases <- list(
  list(m = 5, n = 48, k = 5, q = rnorm(5, -3.8, 0.4), u = runif(5, 1.2, 1.6)),
  list(m = 20, n = 48, k = 5, q = rnorm(20, -3.8, 0.8), u = runif(20, 1.2, 1.6)),
  list(m = 3, n = 12, k = 4, q = rnorm(3, 1, 2), u = runif(3, 0.5, 0.7)),
  list(m = 10, n = Inf, k = 0, q = rnorm(10, 0.3, 0.05), u = runif(10, 0.01, 0.02)),
  list(m = 4, n = 48, k = 5, q = rep(2.5, 4) + c(0, 1e-9, -1e-9, 0), u = rep(0.3, 4))  # lambda ~ 0
)
out <- lapply(cases, function(cs) {
  p <- pool.scalar(cs$q, cs$u, n = cs$n, k = cs$k, rule = "rubin1987")
  list(q = cs$q, u = cs$u, dfcom = if (is.infinite(cs$n)) "Inf" else cs$n - cs$k,
       qbar = p$qbar, ubar = p$ubar, b = p$b, t = p$t, df = p$df, riv = p$r, fmi = p$fmi)
})
# mice::pool on stored lm fits: via a mira built from 5 imputations of nhanes (mice's own example data)
imp <- mice(nhanes, m = 5, seed = 1, printFlag = FALSE)
fit <- with(imp, lm(chl ~ bmi + age))
pl <- summary(pool(fit), conf.int = TRUE)
per <- lapply(fit$analyses, function(f) list(est = unname(coef(f)), var = unname(diag(vcov(f)))))
out <- list(scalar = out, nhanes = list(
  term = as.character(pl$term), estimate = pl$estimate, se = pl$std.error, df = pl$df, p = pl$p.value,
  lower = pl$`2.5 %`, upper = pl$`97.5 %`, dfcom = fit$analyses[[1]]$df.residual,
  per_imputation_estimates = lapply(per, `[[`, "est"), per_imputation_variances = lapply(per, `[[`, "var")),
  versions = list(R = R.version.string, mice = as.character(packageVersion("mice"))))
writeLines(toJSON(out, digits = NA, auto_unbox = TRUE, pretty = TRUE),
           "tests/reference/stats/mi_pool/reference.json")
