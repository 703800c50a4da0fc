"""The method: energies E(x) (Eq. 8 and the others), entropy estimators (Eq. 9 and beside it),
samplers of negatives (G(z), VCD's transitions, Langevin chains), the objectives the two players
descend, and the networks under them."""
