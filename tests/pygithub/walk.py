"""The calls a GitHub client makes first, made with PyGithub (a client
nobody here wrote) against a Hearth server at $HEARTH_API (its /api/v3, as
for GitHub Enterprise). tests/pygithub.rs sets the server up and runs this.

Every list is read with per_page=2, so each is followed past its first page
through the Link header. Exits 1 with every failed check listed.
"""

import datetime
import os
import sys

from github import Auth, Github, GithubException

API = os.environ["HEARTH_API"]
g = Github(base_url=API, auth=Auth.Token(os.environ["HEARTH_TOKEN"]), per_page=2, retry=None)
as_bob = Github(base_url=API, auth=Auth.Token(os.environ["HEARTH_BOB_TOKEN"]), per_page=2, retry=None)

failures = []
done = 0


def check(what, ok, detail=""):
    global done
    done += 1
    if not ok:
        failures.append(f"{what}: {detail}")


def status_of(call):
    """The HTTP status a call fails with (None when it succeeds)."""
    try:
        call()
    except GithubException as e:
        return e.status
    return None


# People and repositories.
me = g.get_user()
check("GET /user", me.login == "alice", me.login)
bob = g.get_user("bob")
check("GET /users/bob", bob.login == "bob" and bob.id > 0, bob.raw_data)
check("GET /users/nobody is a 404", status_of(lambda: g.get_user("nobody-here").login) == 404)
mine = [r.full_name for r in me.get_repos()]
check("GET /user/repos, past the first page", mine == ["alice/demo", "alice/other", "alice/third"], mine)
repo = g.get_repo("alice/demo")
check("GET /repos/alice/demo", repo.default_branch == "main" and repo.full_name == "alice/demo", repo.raw_data)
check("unknown type is a 422", status_of(lambda: list(me.get_repos(type="everything"))) == 422)

# Labels.
repo.create_label("bug", "d73a4a", "Something is wrong")
for n in range(3):
    repo.create_label(f"area-{n}", "00aa00")
check("GET /labels/bug", repo.get_label("bug").description == "Something is wrong")
labels = [l.name for l in repo.get_labels()]
check("GET /labels, past the first page", len(labels) == 4, labels)

# Milestones, addressed by number.
v1 = repo.create_milestone("v1")
v2 = repo.create_milestone("v2", description="Later")
check("a milestone has a number", v2.number == v1.number + 1, (v1.number, v2.number))
check("GET /milestones/{n}", repo.get_milestone(v2.number).title == "v2")
check("GET /milestones", [m.title for m in repo.get_milestones()] == ["v1", "v2"])

# Issues.
first = repo.create_issue("First", body="one", milestone=v1, labels=["bug"], assignees=["alice"])
check("create_issue keeps its milestone", first.milestone is not None and first.milestone.number == v1.number)
check("create_issue keeps labels and assignees", [l.name for l in first.labels] == ["bug"] and first.assignees[0].login == "alice")
for n in range(4):
    repo.create_issue(f"Issue {n}")
from_bob = as_bob.get_repo("alice/demo").create_issue("From bob")
numbers = [i.number for i in repo.get_issues(state="all")]
check("GET /issues, past the first page", len(numbers) == 6 and numbers == sorted(numbers, reverse=True), numbers)
check("?milestone=N", [i.number for i in repo.get_issues(milestone=v1)] == [first.number])
check("?milestone=*", [i.number for i in repo.get_issues(milestone="*")] == [first.number])
check("?milestone=none", len(list(repo.get_issues(milestone="none"))) == 5)
check("?creator=bob", [i.number for i in repo.get_issues(creator="bob")] == [from_bob.number])
check("?assignee=alice", [i.number for i in repo.get_issues(assignee="alice")] == [first.number])
oldest = [i.number for i in repo.get_issues(sort="created", direction="asc")]
check("?direction=asc", oldest == sorted(numbers), oldest)
future = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(days=1)
check("?since=tomorrow", list(repo.get_issues(since=future)) == [])
check("?state=bogus is a 422", status_of(lambda: list(repo.get_issues(state="bogus"))) == 422)
check("?direction=up is a 422", status_of(lambda: list(repo.get_issues(direction="up"))) == 422)
check("GET /issues/{n}", repo.get_issue(first.number).title == "First")
first.edit(milestone=None)
check("milestone: null clears it", repo.get_issue(first.number).milestone is None)
first.edit(milestone=v2)
check("milestone: N sets it", repo.get_issue(first.number).milestone.number == v2.number)
for n in range(3):
    first.create_comment(f"comment {n}")
comments = [c.body for c in first.get_comments()]
check("GET /issues/{n}/comments, past the first page", comments == ["comment 0", "comment 1", "comment 2"], comments)
check("a comment has its url", first.get_comments()[0].url.endswith(f"/issues/comments/{first.get_comments()[0].id}"))
check("an issue has its comments_url", first.comments_url.endswith(f"/issues/{first.number}/comments"))

# Collaborators.
repo.add_to_collaborators("bob", "push")
check("GET /collaborators/bob", repo.has_in_collaborators("bob"))
check("GET /collaborators/carol (none)", not repo.has_in_collaborators("carol"))
check("GET /collaborators/bob/permission", repo.get_collaborator_permission("bob") == "write")
collaborators = [c.login for c in repo.get_collaborators()]
check("GET /collaborators", collaborators == ["bob"], collaborators)

# Code.
branches = [b.name for b in repo.get_branches()]
check("GET /branches, past the first page", branches == ["main", "topic", "wip"], branches)
main = repo.get_branch("main")
check("GET /branches/main", main.commit.sha == os.environ["HEARTH_MAIN"], main.raw_data)
shas = [c.sha for c in repo.get_commits()]
check("GET /commits, past the first page", len(shas) == 3 and shas[0] == os.environ["HEARTH_MAIN"], shas)
head = repo.get_commit("main")
check("GET /commits/main", head.commit.message == "Workflow ci.yml" and [f.filename for f in head.files] == [".hearth/workflows/ci.yml"], head.raw_data)
readme = repo.get_contents("README.md")
check("GET /contents/README.md", readme.decoded_content == b"# demo\n", readme.raw_data)
root = sorted(c.path for c in repo.get_contents(""))
check("GET /contents", root == [".hearth", "README.md", "notes.txt"], root)
check("GET /contents/missing is a 404", status_of(lambda: repo.get_contents("missing.txt")) == 404)
tags = [t.name for t in repo.get_tags()]
check("GET /tags", tags == ["v1.0"], tags)

# Actions.
workflows = list(repo.get_workflows())
check("GET /actions/workflows", [w.name for w in workflows] == ["CI"], [w.raw_data for w in workflows])
ci = repo.get_workflow("ci.yml")
check("GET /actions/workflows/ci.yml", ci.id == workflows[0].id and ci.path == ".hearth/workflows/ci.yml")
check("GET /actions/workflows/{id}", repo.get_workflow(ci.id).name == "CI")
runs = list(ci.get_runs())
check("GET /actions/workflows/{id}/runs", len(runs) == 1, [r.raw_data for r in runs])
run = repo.get_workflow_run(runs[0].id)
check("a run names its workflow", run.workflow_id == ci.id, run.workflow_id)
check("a run has run_attempt, actor and head_commit", run.run_attempt == 1 and run.actor.login == "alice" and run.head_commit.sha == os.environ["HEARTH_MAIN"], run.raw_data)
check("a run has the URLs clients follow", all(run.raw_data.get(k) for k in ["jobs_url", "logs_url", "cancel_url", "rerun_url", "artifacts_url"]), run.raw_data)
check("a run concluded", run.conclusion == "success", run.conclusion)
jobs = list(run.jobs())
check("GET /actions/runs/{id}/jobs", [j.name for j in jobs] == ["test"], [j.raw_data for j in jobs])
job = repo.get_workflow_job(jobs[0].id)
check("GET /actions/jobs/{id}", job.conclusion == "success" and job.run_id == run.id, job.raw_data)

# Pull requests, statuses.
pull = repo.create_pull(title="Topic", body="From topic", head="topic", base="main")
check("create_pull", pull.number == 7 and pull.head.ref == "topic", pull.raw_data)
check("GET /pulls", [p.number for p in repo.get_pulls()] == [pull.number])
commit = repo.get_commit(os.environ["HEARTH_MAIN"])
commit.create_status("success", context="outside/ci", description="Fine")
combined = commit.get_combined_status()
check("create_status and the combined status", combined.state == "success" and combined.total_count == 1, combined.raw_data)

# Notifications and watching: bob's issue told alice (she watches her repository).
threads = list(g.get_user().get_notifications(all=True))
check("GET /notifications", any(t.subject.title == "From bob" for t in threads), [t.raw_data for t in threads])
check("GET /repos/{o}/{r}/subscription", me.has_in_watched(repo))
me.mark_notifications_as_read()
check("PUT /notifications marks them read", list(g.get_user().get_notifications()) == [])

print(f"{done - len(failures)} of {done} checks passed")
for f in failures:
    print("FAILED", f)
sys.exit(1 if failures else 0)
