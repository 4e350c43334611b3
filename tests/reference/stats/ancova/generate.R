# Reference values for ssctrial.stats.ancova: emmeans LS means / contrasts and car::Anova Type III.
# Run from the repository root: Rscript tests/reference/stats/ancova/generate.R
library(jsonlite)
library(emmeans)
library(car)
d <- read.csv("tests/reference/stats/data/basics_like.csv")
d$ARM <- factor(d$ARM, levels = c("BARI2", "BARI4", "CTRL"))  # sorted order, as ssctrial
d$STRATUM <- factor(d$STRATUM)
models <- list(
  main = list(formula = "CHG ~ ARM + BASE + STRATUM", weights = "equal"),
  main_prop = list(formula = "CHG ~ ARM + BASE + STRATUM", weights = "proportional"),
  slopes = list(formula = "CHGMISS ~ ARM * BASE + STRATUM", weights = "equal"),
  strata_int = list(formula = "CHG ~ ARM * STRATUM + BASE", weights = "equal"),
  no_strata = list(formula = "CHG ~ ARM + BASE", weights = "equal")
)
out <- lapply(models, function(m) {
  fit <- lm(as.formula(m$formula), data = d, contrasts = list(ARM = "contr.sum", STRATUM = "contr.sum"))
  em <- emmeans(fit, ~ ARM, weights = m$weights)
  ls <- as.data.frame(summary(em, infer = c(TRUE, FALSE)))
  ct <- as.data.frame(summary(contrast(em, method = "trt.vs.ctrl", ref = "CTRL", adjust = "none"),
                              infer = c(TRUE, TRUE)))
  a <- Anova(fit, type = 3)
  a <- a[!(rownames(a) %in% c("(Intercept)", "Residuals")), ]
  res_df <- fit$df.residual
  list(formula = m$formula, weights = m$weights, n = nobs(fit),
       lsmeans = list(ARM = as.character(ls$ARM), estimate = ls$emmean, se = ls$SE, df = ls$df,
                      lower = ls$lower.CL, upper = ls$upper.CL),
       contrasts = list(contrast = as.character(ct$contrast), estimate = ct$estimate, se = ct$SE,
                        df = ct$df, t = ct$t.ratio, p = ct$p.value, lower = ct$lower.CL,
                        upper = ct$upper.CL),
       anova = list(term = rownames(a), num_df = a$Df, den_df = rep(res_df, nrow(a)),
                    F = a$`F value`, p = a$`Pr(>F)`))
})
# multiplicity-adjusted contrasts vs control (main model): Dunnett-type single-step ("mvt") and Holm
fit <- lm(CHG ~ ARM + BASE + STRATUM, data = d, contrasts = list(ARM = "contr.sum", STRATUM = "contr.sum"))
em <- emmeans(fit, ~ ARM)
set.seed(1)
mvt <- as.data.frame(contrast(em, method = "trt.vs.ctrl", ref = "CTRL", adjust = "mvt"))
holm <- as.data.frame(contrast(em, method = "trt.vs.ctrl", ref = "CTRL", adjust = "holm"))
out$adjusted <- list(contrast = as.character(mvt$contrast), p_mvt = mvt$p.value, p_holm = holm$p.value)
out$versions <- list(R = R.version.string, emmeans = as.character(packageVersion("emmeans")),
                     car = as.character(packageVersion("car")))
writeLines(toJSON(out, digits = NA, auto_unbox = TRUE, pretty = TRUE),
           "tests/reference/stats/ancova/reference.json")
