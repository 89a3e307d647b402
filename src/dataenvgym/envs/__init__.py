"""The three teacher environments (Open-Ended, Skill-List, Skill-Tree) and their registration."""
