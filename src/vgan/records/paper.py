"""The paper's own numbers, which the docs' tables (vgan.records.render, as `P`) and
`vgan reproduce` set beside ours."""

PAPER = {  # per table, per dataset: the paper's test errors (%)
    "table1": {"cifar10": {"GAN k=1": 84.7, "GAN k=3": 86.6, "VGAN k=1": 36.5, "VGAN k=3": 32.5}},
    "table2": {
        "mnist": {
            "No augmentation": 2.2,
            "VCD (rho = 0)": 2.9,
            "VCD (rho = 0.001)": 2.0,
            "VCD (rho = 0.01)": 1.7,
            "VCD (rho = 0.1)": 1.9,
            "VCD (rho = 1)": 21.0,
        },
        "svhn": {
            "No augmentation": 19.0,
            "VCD (rho = 0)": 26.0,
            "VCD (rho = 0.001)": 20.0,
            "VCD (rho = 0.01)": 18.0,
            "VCD (rho = 0.1)": 17.0,
            "VCD (rho = 1)": 37.0,
        },
    },
}
