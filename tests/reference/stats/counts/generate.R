# Reference values for ssctrial.stats.count_regression: glm(poisson) and MASS::glm.nb with log-exposure offset.
# Run from the repository root: Rscript tests/reference/stats/counts/generate.R
library(jsonlite)
library(MASS)
d <- read.csv("tests/reference/stats/data/counts_like.csv")
d$ARM <- relevel(factor(d$ARM), ref = "CTRL")
tidy <- function(fit) {
  s <- summary(fit)$coefficients
  z <- qnorm(0.975)
  rr <- s[c("ARMBARI2", "ARMBARI4"), ]
  list(coef_names = rownames(s), coef = unname(s[, 1]), se = unname(s[, 2]),
       rr = unname(exp(rr[, 1])), lower = unname(exp(rr[, 1] - z * rr[, 2])),
       upper = unname(exp(rr[, 1] + z * rr[, 2])), p = unname(rr[, 4]), loglik = as.numeric(logLik(fit)))
}
pois <- glm(DUCNT ~ ARM + BASEDU + offset(log(EXPYRS)), family = poisson, data = d,
            control = glm.control(epsilon = 1e-14, maxit = 100))
nb <- glm.nb(DUCNT ~ ARM + BASEDU + offset(log(EXPYRS)), data = d,
             control = glm.control(epsilon = 1e-14, maxit = 100))
out <- list(poisson = tidy(pois), negbin = c(tidy(nb), list(theta = nb$theta, theta_se = nb$SE.theta)),
            versions = list(R = R.version.string, MASS = as.character(packageVersion("MASS"))))
writeLines(toJSON(out, digits = NA, auto_unbox = TRUE, pretty = TRUE),
           "tests/reference/stats/counts/reference.json")
