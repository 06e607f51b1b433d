async def test_register_create_join_and_mutual_rooms(hs):
    alice = await hs.register("alice")
    bob = await hs.register("bob")
    room = await hs.create_room(alice, preset="public_chat")
    await hs.join(bob, room)
    body = await hs.mutual_rooms(alice, bob)
    assert body == {"joined": [room], "count": 1}
