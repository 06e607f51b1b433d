"""The authorization rules for ``m.room.member`` events, one function per membership.

Spec: "Room Versions" > "Authorization rules", the ``m.room.member`` section (identical for room
versions 10 to 12 except that in version 12 the room's creators have unlimited power, which
RoomState.power_level_of already applies). Each check below quotes the rule it carries out.

Left out, because this slice has no way to produce them: knocking, restricted join rules (a
restricted room behaves as invite-only), third-party invites and ``join_authorised_via_users_server``.

On top of the auth rules, a few checks make an endpoint refuse a change the rules would allow
but that makes no sense to ask for, as Synapse does: inviting yourself, kicking someone who is
not in the room, unbanning someone who is not banned.
"""

from __future__ import annotations

from minihs.spec.errors import forbidden
from minihs.domain.room_state import RoomState


def check_join(room: RoomState, user_id: str) -> None:
    current = room.membership_of(user_id)
    # "If the sender is banned, reject."
    if current == "ban":
        raise forbidden("You are banned from this room")
    rule = room.join_rule
    # "If the join_rule is public, allow."
    if rule == "public":
        return
    # "If the join_rule is invite or knock then allow if membership state is invite or join."
    # restricted and knock_restricted admit invited and joined users too; anyone else needs a
    # join_authorised_via_users_server, which minihs never issues, so they are refused.
    if rule in ("invite", "knock", "restricted", "knock_restricted"):
        if current in ("invite", "join"):
            return
        raise forbidden("You are not invited to this room.")
    # "Otherwise, reject." (e.g. the reserved `private` join rule)
    raise forbidden("You are not allowed to join this room")


def check_invite(room: RoomState, sender: str, target: str) -> None:
    if sender == target:
        raise forbidden("You cannot invite yourself")
    # "If the sender's current membership state is not join, reject."
    if room.membership_of(sender) != "join":
        raise forbidden(f"{sender} not in room {room.room_id}.")
    current = room.membership_of(target)
    # "If target user's current membership state is ban, reject."
    if current == "ban":
        raise forbidden(f"{target} is banned from the room")
    # "If target user's current membership state is join, reject."
    if current == "join":
        raise forbidden(f"{target} is already in the room.")
    # "If the sender's power level is greater than or equal to the invite level, allow."
    if room.power_level_of(sender) < room.required_level("invite"):
        raise forbidden("You don't have permission to invite users to this room")


def check_leave(room: RoomState, user_id: str) -> None:
    # "If the sender matches state_key, allow if and only if that user's current membership
    # state is knock, join, or invite."
    if room.membership_of(user_id) not in ("join", "invite", "knock"):
        raise forbidden(f"{user_id} not in room {room.room_id}.")


def _check_sender_can_act(room: RoomState, sender: str) -> None:
    # "If the sender's current membership state is not join, reject."
    if room.membership_of(sender) != "join":
        raise forbidden(f"{sender} not in room {room.room_id}.")


def check_kick(room: RoomState, sender: str, target: str) -> None:
    if sender == target:
        check_leave(room, target)
        return
    _check_sender_can_act(room, sender)
    current = room.membership_of(target)
    if current not in ("join", "invite", "knock"):
        raise forbidden(f"{target} is not in the room")
    # "If the sender's power level is greater than or equal to the kick level, and the target
    # user's power level is less than the sender's power level, allow."
    sender_level = room.power_level_of(sender)
    if sender_level < room.required_level("kick"):
        raise forbidden("You don't have permission to kick users from this room")
    if room.power_level_of(target) >= sender_level:
        raise forbidden("You cannot kick a user whose power level is not below yours")


def check_ban(room: RoomState, sender: str, target: str) -> None:
    _check_sender_can_act(room, sender)
    # "If the sender's power level is greater than or equal to the ban level, and the target
    # user's power level is less than the sender's power level, allow."
    sender_level = room.power_level_of(sender)
    if sender_level < room.required_level("ban"):
        raise forbidden("You don't have permission to ban users from this room")
    if room.power_level_of(target) >= sender_level:
        raise forbidden("You cannot ban a user whose power level is not below yours")


def check_unban(room: RoomState, sender: str, target: str) -> None:
    # An unban is a leave event over a ban, so the leave rules for another user apply in full.
    _check_sender_can_act(room, sender)
    if room.membership_of(target) != "ban":
        raise forbidden(f"{target} is not banned from the room")
    # "If the target user's current membership state is ban, and the sender's power level is
    # less than the ban level, reject."
    sender_level = room.power_level_of(sender)
    if sender_level < room.required_level("ban"):
        raise forbidden(f"You cannot unban user {target}.")
    # "If the sender's power level is greater than or equal to the kick level, and the target
    # user's power level is less than the sender's power level, allow." Otherwise reject.
    if sender_level < room.required_level("kick") or room.power_level_of(target) >= sender_level:
        raise forbidden(f"You cannot unban user {target}.")
