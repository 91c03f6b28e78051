"""The joint-conference aid register (救助信息共享): every aid any program or agency granted, per household member."""
