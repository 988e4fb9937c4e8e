"""The in-process implementation of each training stage (the Spark engine's are in ``dummi.training.spark``)."""
