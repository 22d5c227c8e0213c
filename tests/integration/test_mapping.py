"""The mapping service on the real Kafka broker and PostgreSQL, against the Everhour and Core
sandboxes (over httpx's ASGI transport): users, projects and tasks, the unmapped-user policies,
direction, deletions, and creating a task exactly once when its answer is lost.

``test_mapping_policies`` has the unmapped-user policies and the sync frequency; both share one
mapping service (``mapping_world``).

Connections arrive as ``ConnectionChanged`` events on Kafka, as ingest publishes them; entries as
``TimeEntryLogged``. Each test has its own workspace and integration (one shared Everhour
account), so tests neither see nor disturb each other's outputs.
"""

from typing import Any

from timebridge_common.events import (
    EntryMapped,
    EntrySynced,
    TimeEntryLogged,
    UserRef,
)
from timebridge_common.kafka.dlt import ORIGINAL_CONSUMER_GROUP, decode_headers, dlt_topic
from timebridge_common.testing import (
    end_offsets,
    read_topic,
    wait_for,
)
from timebridge_mapping.domain.entries import EntryKey

from .conftest import KAFKA, unique
from .mapping_world import (
    T0,
    World,
    by_entry,
    outbox_has,
    reconnect,
    workspace,
    world,
)

__all__ = ["world"]  # the module's fixture: one mapping service for both modules (leased)


async def test_a_core_entry_is_mapped_to_everhour_ids_by_email_and_title(world: World) -> None:
    ws = await workspace(world)
    ann = ws.core_user("Ann", f"Ann.Lee@{ws.id}.Test")
    everhour_ann = ws.everhour_user("Ann Lee", f"ann.lee@{ws.id}.test")
    ticket = ws.ticket("Login  page")
    task = world.everhour.add_task(ws.everhour_project, "login page")
    await world.publish(ws.entry("te_1", ann, ticket=ticket))

    [mapped] = await ws.outputs(1)
    assert isinstance(mapped, EntryMapped)
    assert (mapped.integration_id, mapped.source, mapped.target, mapped.operation) == (
        ws.integration_id,
        "core",
        "everhour",
        "upsert",
    )
    assert (mapped.user_mapped_by, mapped.task_mapped_by) == ("email", "title")
    assert mapped.entry.user == UserRef(
        external_id=everhour_ann, email=f"ann.lee@{ws.id}.test", name="Ann Lee"
    )
    assert (mapped.entry.project_external_id, mapped.entry.task_external_id) == (
        ws.everhour_project,
        task,
    )
    assert mapped.entry.duration_seconds == 5400
    assert mapped.source_entry.user == ann
    assert mapped.source_updated_at == T0

    links = (await ws.call("GET", "/task-links")).json()
    assert links == [
        {
            "core_ticket_id": ticket,
            "tracker_task_id": task,
            "tracker_project_id": ws.everhour_project,
            "linked_by": "title",
        }
    ]
    users = (await ws.call("GET", "/user-mappings")).json()
    assert {
        "core_user": {"id": ann.external_id, "email": f"Ann.Lee@{ws.id}.Test", "name": "Ann"},
        "tracker_user": {"id": everhour_ann, "email": f"ann.lee@{ws.id}.test", "name": "Ann Lee"},
        "matched_by": "email",
    } in users["mappings"]


async def test_manual_user_mapping_and_task_link_win(world: World) -> None:
    ws = await workspace(world)
    bob = ws.core_user("Bob", f"bob@{ws.id}.test")
    everhour_bob = ws.everhour_user("Bob", f"bob@{ws.id}.test")
    carl = ws.everhour_user("Carl", f"carl@{ws.id}.test")
    ticket = ws.ticket("Checkout")
    checkout = world.everhour.add_task(ws.everhour_project, "Checkout")
    chosen = world.everhour.add_task(ws.everhour_project, "Payments")

    mapped_user = await ws.call(
        "PUT", f"/user-mappings/{bob.external_id}", json={"tracker_user_id": carl}
    )
    assert mapped_user.status_code == 200, mapped_user.text
    pair = next(
        p for p in mapped_user.json()["mappings"] if p["core_user"]["id"] == bob.external_id
    )
    assert (pair["tracker_user"]["id"], pair["matched_by"]) == (carl, "manual")
    linked = await ws.call("PUT", f"/task-links/{ticket}", json={"tracker_task_id": chosen})
    assert linked.json()["linked_by"] == "manual"
    unknown = await ws.call("PUT", "/task-links/T-other", json={"tracker_task_id": "ev:404"})
    taken = await ws.call("PUT", "/task-links/T-other", json={"tracker_task_id": chosen})
    assert (unknown.status_code, taken.status_code) == (422, 409)

    await world.publish(ws.entry("te_1", bob, ticket=ticket))
    [mapped] = await ws.outputs(1)
    assert isinstance(mapped, EntryMapped)
    assert (mapped.entry.user.external_id, mapped.user_mapped_by) == (carl, "manual")
    assert (mapped.entry.task_external_id, mapped.task_mapped_by) == (chosen, "link")

    # Undone, email and title apply again (the title match is stored as a link); without the
    # project mapping, a ticket without a link maps nowhere.
    removed = [
        await ws.call("DELETE", f"/user-mappings/{bob.external_id}"),
        await ws.call("DELETE", f"/task-links/{ticket}"),
        await ws.call("DELETE", f"/task-links/{ticket}"),
    ]
    assert [r.status_code for r in removed] == [204, 204, 404]
    await world.publish(ws.entry("te_1", bob, ticket=ticket, minute=1))
    await wait_for(lambda: outbox_has(world, ws, 2))
    assert (await ws.call("DELETE", f"/project-mappings/{ws.core_project}")).status_code == 204
    await world.publish(ws.entry("te_1", bob, ticket=ws.ticket("Refunds"), minute=2))
    # EntryMapped and EntrySynced are different topics: their order in the read is not defined.
    outputs = await ws.outputs(3)
    _, again = [o for o in outputs if isinstance(o, EntryMapped)]
    [unmapped] = [o for o in outputs if isinstance(o, EntrySynced)]
    assert (again.entry.user.external_id, again.user_mapped_by) == (everhour_bob, "email")
    assert (again.entry.task_external_id, again.task_mapped_by) == (checkout, "title")
    assert (
        unmapped.reason == f"Core project {ws.core_project} is not mapped to any everhour project"
    )


async def test_a_task_is_created_once_though_its_answer_is_lost_and_the_event_redelivered(
    world: World,
) -> None:
    ws = await workspace(world)
    ann, _ = ws.person("Ann")
    ticket = ws.ticket(
        "Export invoices as PDF",
        description="Customers want PDFs.",
        status="open",
        url=f"https://core.example/{ws.id}/tickets/1",
    )
    event = ws.entry("te_1", ann, ticket=ticket)
    world.faults.lose_next_responses(1, delay_s=5)
    envelope = await world.publish(event)
    await world.publish(event, envelope.event_id)
    await world.publish(ws.entry("te_1", ann, ticket=ticket, minute=1))

    first, second = await ws.outputs(2)
    assert isinstance(first, EntryMapped)
    assert isinstance(second, EntryMapped)
    assert (first.task_mapped_by, second.task_mapped_by) == ("created", "link")
    tasks = [t for t in world.everhour.tasks.values() if t.name == "Export invoices as PDF"]
    assert len(tasks) == 1
    [task] = tasks
    assert first.entry.task_external_id == second.entry.task_external_id == task.id
    assert (task.project, task.section) == (ws.everhour_project, ws.section)
    assert task.description == (
        f"Core ticket {ticket}\nhttps://core.example/{ws.id}/tickets/1\nStatus: open\n\n"
        "Customers want PDFs."
    )
    assert world.faults.lost_responses == 0
    claims = await world.pool.fetchval(
        "SELECT count(*) FROM inbox WHERE event_id = $1", envelope.event_id
    )
    assert (claims, await world.outbox_count(ws.id, "te_1")) == (1, 2)
    links = (await ws.call("GET", "/task-links")).json()
    assert [(link["tracker_task_id"], link["linked_by"]) for link in links] == [
        (task.id, "created")
    ]


async def test_direction_decides_which_entries_are_mapped(world: World) -> None:
    one_way = await workspace(world, direction="core_to_tracker")
    ann, everhour_ann = one_way.person("Ann")
    from_everhour = one_way.entry(
        "4711",
        UserRef(external_id=everhour_ann, email=f"ann@{one_way.id}.test"),
        source="everhour",
        project=one_way.everhour_project,
    )
    await world.publish(from_everhour)
    key = EntryKey(one_way.id, "everhour", "4711")
    await wait_for(lambda: world.mapping.store.get(key))
    staged = await world.pool.fetchval(
        "SELECT count(*) FROM outbox WHERE key = $1", f"{one_way.id}:everhour:4711".encode()
    )
    assert staged == 0

    two_way = await reconnect(one_way, direction="two_way")
    ticket = two_way.ticket("Search")
    task = world.everhour.add_task(two_way.everhour_project, "Search index")
    await two_way.call("PUT", f"/task-links/{ticket}", json={"tracker_task_id": task})
    await world.publish(
        two_way.entry(
            "4712",
            UserRef(external_id=everhour_ann, email=f"ann@{one_way.id}.test"),
            source="everhour",
            project=two_way.everhour_project,
            ticket=task,
        )
    )
    [mapped] = await two_way.outputs(1)
    assert isinstance(mapped, EntryMapped)
    assert (mapped.source, mapped.source_external_id, mapped.target) == (
        "everhour",
        "4712",
        "core",
    )
    assert (mapped.entry.user.external_id, mapped.user_mapped_by) == (ann.external_id, "email")
    assert (mapped.entry.task_external_id, mapped.task_mapped_by) == (ticket, "link")
    assert mapped.entry.project_external_id == two_way.core_project


async def test_a_deletion_is_mapped_as_a_delete_and_an_older_version_never(
    world: World,
) -> None:
    ws = await workspace(world)
    ann, _ = ws.person("Ann")
    ticket = ws.ticket("Onboarding")
    world.everhour.add_task(ws.everhour_project, "Onboarding")
    await world.publish(ws.entry("te_1", ann, ticket=ticket, minute=5))
    await world.publish(ws.entry("te_1", ann, ticket=ticket, minute=9, deleted=True))
    await world.publish(ws.entry("te_1", ann, ticket=ticket, minute=7))
    await world.publish(ws.entry("te_2", ann, ticket=ticket))
    outputs = by_entry(await ws.outputs(3))
    assert [(o.source_external_id, getattr(o, "operation", None)) for o in outputs] == [
        ("te_1", "upsert"),
        ("te_1", "delete"),
        ("te_2", "upsert"),
    ]
    assert await world.outbox_count(ws.id, "te_1") == 2
    stored = await world.mapping.store.get(EntryKey(ws.id, "core", "te_1"))
    assert stored is not None
    assert stored.deleted


async def test_the_api_is_for_the_workspaces_core_admins(world: World) -> None:
    ws = await workspace(world)
    member_token = unique("ct-member")
    world.core.add_user(ws.id, "Max", role="member", token=member_token)
    path = f"{ws.base}/project-mappings"
    anonymous = await world.api.get(path)
    member = await world.api.get(path, headers={"authorization": f"Bearer {member_token}"})
    stranger = await world.api.get(path, headers={"authorization": "Bearer ct-unknown"})
    admin = await ws.call("GET", "/project-mappings")
    assert [r.status_code for r in (anonymous, member, stranger, admin)] == [401, 403, 401, 200]
    assert admin.json() == [
        {"core_project_id": ws.core_project, "tracker_project_id": ws.everhour_project}
    ]
    other = await workspace(world)
    foreign = await world.api.get(
        f"/v1/workspaces/{ws.id}/integrations/{other.integration_id}/project-mappings",
        headers={"authorization": f"Bearer {ws.admin_token}"},
    )
    assert foreign.status_code == 404
    paths = (await world.api.get("/openapi.json")).json()["paths"]
    prefix = "/v1/workspaces/{workspace_id}/integrations/{integration_id}"
    for route in (
        "/project-mappings/{core_project_id}",
        "/project-rules/{core_project_id}",
        "/user-mappings/{core_user_id}",
        "/users/refresh",
        "/task-links/{core_ticket_id}",
        "/held-entries",
    ):
        assert prefix + route in paths


async def test_a_connection_the_owner_holds_nothing_for_dead_letters_the_entry_at_once(
    world: World,
) -> None:
    """No copy of a secret to fall back on: the owner's "unknown" is invalid, never retried."""
    ws = await workspace(world)
    await world.owner.source.delete(ws.id, ws.integration_id)
    ann, _ = ws.person("Ann")
    before = await end_offsets(KAFKA, dlt_topic(TimeEntryLogged.topic()))
    await world.publish(ws.entry("te_1", ann, ticket=ws.ticket("Anything")))

    group = f"{world.mapping.settings.kafka.group_prefix}-mapping"

    def ours(records: list[Any]) -> list[dict[str, str]]:
        """This mapping's letters for this workspace: another platform running in the session
        (a leased one) reads the same topic and dead-letters the entry too, in its own group."""
        found = [decode_headers(r.headers) for r in records]
        return [
            h
            for h in found
            if h.get("ce_workspaceid") == ws.id and h.get(ORIGINAL_CONSUMER_GROUP) == group
        ]

    [headers] = ours(await read_topic(KAFKA, before, until=lambda rs: bool(ours(rs))))
    assert (headers["timebridge_dlt-error-class"], headers["kafka_deliveryAttempt"]) == (
        "invalid",
        "1",
    )
    assert (
        f"the credential of {ws.id}/{ws.integration_id}" in (headers["kafka_dlt-exception-message"])
    )


async def test_the_providers_api_lists_what_is_installed_from_the_profiles(world: World) -> None:
    ws = await workspace(world)
    path = f"/v1/workspaces/{ws.id}/providers"
    member_token = unique("ct-member")
    world.core.add_user(ws.id, "Max", role="member", token=member_token)
    member = await world.api.get(path, headers={"authorization": f"Bearer {member_token}"})
    answer = await world.api.get(path, headers={"authorization": f"Bearer {ws.admin_token}"})
    assert (member.status_code, answer.status_code) == (403, 200)
    by_name = {p["name"]: p for p in answer.json()}
    assert by_name["core"]["kind"] == "home"
    assert by_name["core"]["directions"] == []
    tracker = by_name["everhour"]
    assert (tracker["title"], tracker["kind"], tracker["mapped"]) == ("Everhour", "tracker", True)
    assert "directory" in tracker["capabilities"]
    assert [d["direction"] for d in tracker["directions"] if d["allowed"]] == [
        "two_way",
        "core_to_tracker",
        "tracker_to_core",
    ]
    assert "started_at" not in tracker["kept_fields"]
    assert (tracker["changes"], tracker["units"]) == ("webhooks", "seconds")


async def test_the_trackers_rates_are_read_through_its_directory(world: World) -> None:
    """The sandbox holds no rates (the rates' shapes are tested in libs/providers): the route
    reads them from the tracker with the integration's key and answers its list."""
    ws = await workspace(world)
    answer = await ws.call("GET", "/rates")
    assert (answer.status_code, answer.json()) == (200, [])
    missing = await ws.world.api.get(
        f"/v1/workspaces/{ws.id}/integrations/int_missing/rates",
        headers={"authorization": f"Bearer {ws.admin_token}"},
    )
    assert missing.status_code == 404


async def test_the_trackers_projects_are_listed_to_pick_one_to_map(world: World) -> None:
    """Read from the tracker with the integration's key (the sandbox's one shared account holds
    every test's projects): ids and names, for the console's list; only in the admin's workspace."""
    ws = await workspace(world)
    answer = await ws.call("GET", "/tracker-projects")
    assert answer.status_code == 200
    listed = {p["id"]: p for p in answer.json()}
    assert listed[ws.everhour_project] == {
        "id": ws.everhour_project,
        "name": f"Website {ws.id}",
        "closed": False,
    }
    other = await workspace(world)
    foreign = await world.api.get(
        f"/v1/workspaces/{ws.id}/integrations/{other.integration_id}/tracker-projects",
        headers={"authorization": f"Bearer {ws.admin_token}"},
    )
    assert foreign.status_code == 404


async def test_the_tasks_of_the_mapped_projects_are_listed_to_pick_one_to_link(
    world: World,
) -> None:
    ws = await workspace(world)
    task = world.everhour.add_task(ws.everhour_project, "Fix the login page")
    answer = await ws.call("GET", "/tracker-tasks")
    assert answer.status_code == 200
    assert {
        "id": task,
        "name": "Fix the login page",
        "project_id": ws.everhour_project,
        "closed": False,
    } in answer.json()
    assert {t["project_id"] for t in answer.json()} == {ws.everhour_project}  # mapped ones only
