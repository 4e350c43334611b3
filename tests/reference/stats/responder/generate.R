# Reference values for ssctrial.stats.responder_analysis (Fisher exact, logistic regression, Woolf CI).
# Run from the repository root: Rscript tests/reference/stats/responder/generate.R
library(jsonlite)
d <- read.csv("tests/reference/stats/data/basics_like.csv")
d$ARM <- relevel(factor(d$ARM), ref = "CTRL")
out <- list()
for (miss in c("non-responder", "exclude")) {
  r <- d
  if (miss == "non-responder") r$RESP[is.na(r$RESP)] <- 0 else r <- r[!is.na(r$RESP), ]
  res <- list()
  for (lev in c("BARI2", "BARI4")) {
    s <- r[r$ARM %in% c(lev, "CTRL"), ]
    x1 <- sum(s$RESP[s$ARM == lev]); n1 <- sum(s$ARM == lev)
    x2 <- sum(s$RESP[s$ARM == "CTRL"]); n2 <- sum(s$ARM == "CTRL")
    ft <- fisher.test(matrix(c(x1, n1 - x1, x2, n2 - x2), 2, byrow = TRUE))
    res[[lev]] <- list(x1 = x1, n1 = n1, x2 = x2, n2 = n2, fisher_p = ft$p.value)
  }
  # unadjusted logistic regression: exp(coef) is the sample OR and the Wald CI is Woolf's
  g0 <- glm(RESP ~ ARM, family = binomial, data = r, control = glm.control(epsilon = 1e-14, maxit = 100))
  g1 <- glm(RESP ~ ARM + BASE, family = binomial, data = r, control = glm.control(epsilon = 1e-14, maxit = 100))
  g2 <- glm(RESP ~ ARM + BASE + STRATUM, family = binomial, data = r,
            control = glm.control(epsilon = 1e-14, maxit = 100))
  tidy <- function(g) {
    s <- summary(g)$coefficients[c("ARMBARI2", "ARMBARI4"), ]
    z <- qnorm(0.975)
    list(or = exp(s[, 1]), lower = exp(s[, 1] - z * s[, 2]), upper = exp(s[, 1] + z * s[, 2]), p = s[, 4])
  }
  out[[miss]] <- list(tables = res, unadjusted = tidy(g0), adjusted_base = tidy(g1),
                      adjusted_base_stratum = tidy(g2))
}
out$versions <- list(R = R.version.string)
writeLines(toJSON(out, digits = NA, auto_unbox = TRUE, pretty = TRUE),
           "tests/reference/stats/responder/reference.json")
