"""The inbox pages without a browser: tabs, jurisdiction, filters, sorting, pages, claiming from the list."""
import re

from tests.scenario import Dibao, advance
from tests.ui_pages import PageClient, add_user


def rows(html: str) -> list[str]:
    body = html.split("<tbody>", 1)[1].split("</tbody>", 1)[0]
    return [r for r in body.split("<tr")[1:] if 'class="empty"' not in r]


def test_ui__inbox_todo_is_mine_and_my_groups_in_my_jurisdiction(app, login):
    heping = Dibao(login, name="张三")
    anding = Dibao(login, street="安定街道", name="李四")
    html = PageClient(app, "jd_heping").text("/inbox")
    assert "张三" in html and "李四" not in html
    assert len(rows(html)) == 1 and "认领" in html
    assert f"/cases/{heping.id}" in html
    html = PageClient(app, "jd_anding").text("/inbox")
    assert "李四" in html and "张三" not in html and f"/cases/{anding.id}" in html
    # The reviewer has nothing yet (another role), the community worker's start is in 我发起的.
    assert rows(PageClient(app, "jd_heping_lead").text("/inbox")) == []
    started = PageClient(app, "sq_heping").text("/inbox?tab=started")
    assert "张三" in started and "李四" not in started and "办理中" in started
    # Masked ID numbers only.
    assert re.search(r"110105\*{8}\d{3}[\dX]", html) and not re.search(r"110105\d{12}", html)


def test_ui__claim_from_the_list(app, login):
    case = Dibao(login)
    task = case.open_task("accept", "jd_heping")
    clerk = PageClient(app, "jd_heping")
    response = clerk.post(f"/tasks/{task['id']}/claim", {"next": "/inbox?tab=todo"})
    assert response.status_code == 302 and response.headers["Location"].endswith("/inbox?tab=todo")
    assert case.open_task("accept", "jd_heping")["assignee"] == "jd_heping"
    html = clerk.text("/inbox")
    assert "已认领「受理」" in html and ">办理<" in html
    # A second claim elsewhere is refused with a message, not an error page.
    add_user(app, "jd_heping2", "和平街道 王强", "street_clerk", "和平街道")
    other = PageClient(app, "jd_heping2")
    response = other.post(f"/tasks/{task['id']}/claim", {"next": "/inbox"})
    assert response.status_code == 302
    assert "认领失败：该任务已由 和平街道 张伟 认领" in other.text("/inbox")
    # Another street cannot even see it; an open redirect is not followed.
    assert PageClient(app, "jd_anding").post(f"/tasks/{task['id']}/claim").status_code == 404
    response = clerk.post(f"/tasks/{task['id']}/claim", {"next": "https://evil.example/"})
    assert response.headers["Location"].endswith(f"/tasks/{task['id']}")
    # Without the CSRF token the form is refused.
    assert clerk.post(f"/tasks/{task['id']}/claim", csrf=False).status_code == 400


def test_ui__done_overdue_and_filters(app, login):
    first = Dibao(login, name="张三")
    first.accept()
    Dibao(login, name="王五")
    clerk = PageClient(app, "jd_heping")
    done = clerk.text("/inbox?tab=done")
    assert len(rows(done)) == 2 and "已办结" in done and "近亲属备案核查" in done
    todo = clerk.text("/inbox")
    assert len(rows(todo)) == 2  # 王五's 受理 and 张三's 入户调查
    only_survey = clerk.text("/inbox?step=入户调查")
    assert len(rows(only_survey)) == 1 and "张三" in only_survey
    assert rows(clerk.text("/inbox?program=tekun")) == []
    assert rows(clerk.text("/inbox?due=overdue")) == []
    assert len(rows(clerk.text("/inbox?due=none"))) == 1  # 受理 has no deadline
    advance(login, "P15D")
    overdue = clerk.text("/inbox?tab=overdue")
    assert len(rows(overdue)) == 1 and "入户调查" in overdue and "badge-overdue" in overdue
    assert 'count count-alert">1<' in overdue
    # Sorting by due date, both ways: the task without a deadline stays last.
    ascending = clerk.text("/inbox?sort=due")
    assert ascending.index("入户调查") < ascending.index(">受理<")
    descending = clerk.text("/inbox?sort=-due")
    assert descending.index("入户调查") < descending.index(">受理<")
    # The supervisor's 超期 covers the whole district.
    supervisor = PageClient(app, "supervisor").text("/inbox?tab=overdue")
    assert "入户调查" in supervisor and "张三" in supervisor
    # Nonsense parameters fall back to defaults instead of failing.
    assert clerk.get("/inbox?tab=x&page=abc&sort=drop&due=%27").status_code == 200


def test_ui__street_filter_and_pages(app, login):
    for n in range(23):
        Dibao(login, street="和平街道" if n % 2 else "安定街道", name=f"测试{n:02d}")
    # District roles filter by street; a street's staff have one street and no such filter.
    assert 'name="street"' in PageClient(app, "supervisor").text("/inbox?tab=overdue")
    assert 'name="street"' not in PageClient(app, "jd_heping").text("/inbox")
    assert "没有超期任务" in PageClient(app, "supervisor").text("/inbox?tab=overdue")
    page1 = PageClient(app, "sq_anding").text("/inbox?tab=started")
    assert len(rows(page1)) == 12 and "共 12 条" in page1
    assert len(rows(PageClient(app, "jd_anding").text("/inbox"))) == 12
    sq_heping = PageClient(app, "sq_heping")
    assert "共 11 条" in sq_heping.text("/inbox?tab=started&street=和平街道")
    # Filtering by another street never widens the jurisdiction.
    assert rows(sq_heping.text("/inbox?tab=started&street=安定街道")) == []


def test_ui__pagination(app, login):
    for n in range(25):
        Dibao(login, name=f"测试{n:02d}")
    clerk = PageClient(app, "jd_heping")
    page1 = clerk.text("/inbox?sort=received")
    assert len(rows(page1)) == 20 and "共 25 条，第 1/2 页" in page1 and "下一页" in page1
    page2 = clerk.text("/inbox?sort=received&page=2")
    assert len(rows(page2)) == 5 and "测试24" in page2 and "测试00" not in page2
    # A page past the end shows the last one.
    assert len(rows(clerk.text("/inbox?sort=received&page=9"))) == 5


def test_ui__escalations_show_among_copies(app, login):
    case = Dibao(login, name="张三")
    case.accept()
    Dibao(login, street="安定街道", name="李四").accept()
    advance(login, "P20D")  # the survey is long overdue: the deadline sweep escalates it to the street reviewer
    html = PageClient(app, "jd_heping_lead").text("/inbox?tab=copied")
    assert "张三" in html and "超期督办：「入户调查」超期未办" in html
    assert "李四" not in html  # another street's escalation is not ours
    assert "李四" in PageClient(app, "jd_anding_lead").text("/inbox?tab=copied")
    assert "暂无抄送给您的案件" in PageClient(app, "jd_heping").text("/inbox?tab=copied")
