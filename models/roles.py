"""The role groups every check uses, declared once: page guards, JSON route dependencies, actions and
the transition table all name these instead of spelling the roles out.

A leaf beside models/enums.py (it imports only the enums and the user table): models/lifecycle.py,
which models/access.py imports, needs the groups too.
"""

from __future__ import annotations

from models.enums import Role
from models.user import User

# The center's staff who work the cases; the administrator may do whatever they do.
STAFF: tuple[Role, ...] = (Role.staff, Role.admin)
LEADERS: tuple[Role, ...] = (Role.leader, Role.admin)
ADMIN: tuple[Role, ...] = (Role.admin,)
# Who may read the backlog (staff too: their work queue is built from it).
BACKLOG: tuple[Role, ...] = (Role.staff, Role.leader, Role.admin)
# Who may read the 司法局's figures and the 以案定补 lists (the reviewers of 司法所 and 司法局 too).
BUREAU_READERS: tuple[Role, ...] = (*BACKLOG, Role.reviewer)
EVERYONE: tuple[Role, ...] = tuple(Role)


def is_director(user: User) -> bool:
    """The center's director (中心主任): a level-1 leader."""
    return user.role == Role.leader and user.level == 1
