"""The web-page chrome around a document's text: navigation, time stamps, comments, image
names, telephone numbers, share buttons, translator widgets. Such lines are dropped; a line
that closes the document (相关链接, 评论, 附件 …) ends the plan's body.
"""

from __future__ import annotations

import re

_CHROME = [
    r"^(?:logo|back|返回|首页|打印|关闭(?:窗口)?|分享到?.*|字号[:：]?.*|【?(?:大|中|小)】?|收藏|Print|Close)$",
    r"^.*(?:您当前的位置|当前位置|您的位置)\s*[>:：].*$",
    r"^.*\s>\s.*>.*$",  # breadcrumb a > b > c
    r"^[\w\-]+\.(?:jpe?g|png|gif|bmp|webp|svg)$",  # image file names
    r"^(?:来源|发布时间|发布日期|发布机构|作者|浏览次数|点击数|阅读量|责任编辑|编辑)\s*[:：].*$",
    # a page's metadata block: "• 时间:2023-05-04 08:58:16", "• 发布:…", "索 引 号: …", "文 号: …",
    # "生效日期: 2024-10-31" (a label with a bullet, or a label whose value is a page field, not plan text)
    r"^[•·▪]\s*(?:时间|发布|来源|作者|浏览|点击)[^:：]{0,4}[:：].*$",
    r"^(?:时\s*间)\s*[:：]\s*\d{4}-\d{1,2}-\d{1,2}.*$",
    r"^(?:索\s*引\s*号|公开日期|公开方式|公开范围|主题分类|所属主题|组配分类|生效日期|废止日期|文件有效性|信息来源"
    r"|文\s*号)\s*[:：|].*$",
    r"^[（(]?信息公开形式[:：].*$",
    r"^\d{4}-\d{1,2}-\d{1,2}\s+\d{1,2}:\d{2}(?::\d{2})?$",  # a page time stamp
    r"^(?!\d{4}-\d{1,2}-\d{1,2}$)(?:\+?\d[\d\- ]{6,}\d)$",  # a bare telephone number (not a date)
    r"^\d+\s*/\s*\d+$",  # 323/5000 (a counter)
    r"^(?:评论|登录后才可以留言！?|发表评论|我要评论|网友评论|留言|相关阅读|相关新闻|扫一扫.*|点赞|在看)$",
    r"^(?:重点词汇|传统翻译模型|通用场景|翻译结果|原文)$",
    # a numbered list of the site's own links ("1.网站声明", "3.联系我们"): navigation, not sections
    r"^\d{1,2}\s*[.．、]\s*(?:网站(?:声明|地图|导航)|首页|联系我们|关于我们|隐私(?:声明|政策)|无障碍|版权(?:声明|所有)"
    r"|帮助|站点地图|登录|注册|English|繁体|相关链接|政务服务|互动交流|信息公开|网站纠错|智能问答)\s*$",
]
_CHROME_RE = re.compile("|".join(f"(?:{p})" for p in _CHROME), re.IGNORECASE)
_CONTACT = re.compile(r"^(?:联\s*系\s*人|联系电话|电\s*话|传\s*真|邮\s*箱|电子邮箱|E-?mail|地\s*址)\s*[:：]")
_CLOSERS = re.compile(
    r"^(?:相关链接|相关文件|附件\s*[:：\d]?|附表\s*[:：\d]?|Annex\s*[:：\d]?|Attachment\s*[:：]?|评论$|登录后才可以留言)",
    re.IGNORECASE,
)


def is_chrome(line: str) -> bool:
    return bool(_CHROME_RE.match(line) or _CONTACT.match(line))


def is_closer(line: str) -> bool:
    return bool(_CLOSERS.match(line))


def strip_chrome(lines: list[str]) -> tuple[list[str], list[str]]:
    """(kept lines, dropped lines)."""
    kept, dropped = [], []
    for line in lines:
        (dropped if is_chrome(line) else kept).append(line)
    return kept, dropped
