# Extra reference values for ssctrial's MMRM tests, computed with nlme::gls (REML) and
# clubSandwich on mmrm's fev_data: heterogeneous structures (TOEPH, ARH(1), CSH) and the
# empirical (sandwich, CR0) covariance of the fixed effects. Run from this folder:
#   Rscript generate_nlme_extra.R   (writes nlme_extra.json)
suppressPackageStartupMessages({library(nlme); library(clubSandwich); library(jsonlite)})
d <- read.csv("fev_data.csv", na.strings = "")
d$AVISIT <- factor(d$AVISIT, levels = c("VIS1", "VIS2", "VIS3", "VIS4"))
d$ARMCD <- factor(d$ARMCD, levels = c("PBO", "TRT"))
d$RACE <- factor(d$RACE, levels = c("Asian", "Black or African American", "White"))
d$SEX <- factor(d$SEX, levels = c("Male", "Female"))
d <- d[!is.na(d$FEV1), ]
full <- names(which(table(d$USUBJID) == 4))[1]  # a subject with all 4 visits, for getVarCov
ctrl <- glsControl(maxIter = 500, msMaxIter = 500,
                   returnObject = FALSE, tolerance = 1e-12, msTol = 1e-12)
summ <- function(fit) {
  V <- getVarCov(fit, individual = full)
  list(minus2_loglik = -2 * as.numeric(logLik(fit)),
       coef_names = names(coef(fit)), estimate = unname(coef(fit)),
       se = unname(sqrt(diag(vcov(fit)))),
       covariance_matrix = unname(matrix(as.numeric(V), nrow(V))))
}
out <- list()
f <- FEV1 ~ ARMCD
out$toeph <- summ(gls(f, d, correlation = corARMA(form = ~ VISITN | USUBJID, p = 3, q = 0),
                      weights = varIdent(form = ~ 1 | AVISIT), method = "REML", control = ctrl))
out$ar1h <- summ(gls(f, d, correlation = corAR1(form = ~ VISITN | USUBJID),
                     weights = varIdent(form = ~ 1 | AVISIT), method = "REML", control = ctrl))
out$csh <- summ(gls(f, d, correlation = corCompSymm(form = ~ 1 | USUBJID),
                    weights = varIdent(form = ~ 1 | AVISIT), method = "REML", control = ctrl))
out$csh_ml <- summ(gls(f, d, correlation = corCompSymm(form = ~ 1 | USUBJID),
                       weights = varIdent(form = ~ 1 | AVISIT), method = "ML", control = ctrl))
fus <- gls(FEV1 ~ RACE + SEX + ARMCD * AVISIT, d, correlation = corSymm(form = ~ VISITN | USUBJID),
           weights = varIdent(form = ~ 1 | AVISIT), method = "REML", control = ctrl)
cr0 <- vcovCR(fus, cluster = d$USUBJID, type = "CR0")
out$us_empirical_cr0 <- c(summ(fus), list(se_cr0 = unname(sqrt(diag(as.matrix(cr0))))))
out$software <- list(R = R.version.string, nlme = as.character(packageVersion("nlme")),
                     clubSandwich = as.character(packageVersion("clubSandwich")))
writeLines(toJSON(out, digits = NA, auto_unbox = TRUE, pretty = TRUE), "nlme_extra.json")
