"""Pure domain: money, Centra orders, BlueCherry sales orders, mapping. Imports no I/O."""
