"""The closed lists of words the registry, lineage and policies share, defined once.

Every layer may import this module (it imports nothing of Charter): the services check
input against these lists, and the policy context declares its fields with them.
"""

from __future__ import annotations

#: What a model does.
TASKS = ("binary_classification", "multiclass_classification", "regression", "ranking", "generative")
#: The EU AI Act's risk tiers.
RISK_TIERS = ("minimal", "limited", "high", "prohibited")
#: The GDPR Art. 6 legal bases for processing personal data, plus the two honest answers left.
LEGAL_BASES = (
    "consent",
    "contract",
    "legal_obligation",
    "vital_interests",
    "public_task",
    "legitimate_interests",
    "not_personal_data",
    "unknown",
)
#: How a model version uses a dataset version (lineage edge roles towards a model).
MODEL_DATA_ROLES = ("training", "validation", "evaluation")
