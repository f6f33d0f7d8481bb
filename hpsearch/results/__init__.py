"""The results document: its file (written atomically, read and validated), and the judgement made from its
trials: verdicts (best trial, edge warnings, the gate) and narrowing for the next stage."""
