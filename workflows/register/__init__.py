"""After approval: the recipient register (保障对象台账), standards, monthly payment runs and periodic reviews."""
