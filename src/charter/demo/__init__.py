"""``charter demo``: the whole governance loop on the embedded default, told with real components.

A fresh home (SQLite and a local Delta lake), synthetic credit applications from a documented
generator (:mod:`.population`), two scikit-learn versions through the gates, production
traffic through the SDK with a population shift halfway, monitors, an incident escalated to a
local webhook receiver (:mod:`.receiver`), an approved retraining (:mod:`.retrain`), the new
version through the same gates, postmortems and a verified audit trail. The steps are
functions over the services (:mod:`.setup`, :mod:`.traffic`, :mod:`.operations`, listed in
:mod:`.story`); :mod:`.evidence` reads back what they left. docs/demo.md tells the story.
"""
