"""ATLAS calorimeter simulation core (PHYSICS.md §1.2–§1.6).

Modules: ``geometry`` (layers, granularity, depths, windows), ``material`` (upstream material,
conversions, bending), ``conversions`` (photons → conversion legs), ``objects`` (padded EM and
hadron containers), ``knobs`` (§8 knobs and shifts), ``response`` (§1.5 cell response,
detector instance), ``deposits`` (expected deposits), ``calorimeter`` (``simulate_calorimeter``).
"""
